

with

grain as (

    select
        code, hour_started_at,
        count(*) as row_count

    from "warehouse"."analytics"."candle_ohlcv_hourly"
    group by code, hour_started_at

),

violations as (

    select * from grain
    where
        row_count > 1
        or code is null
        or hour_started_at is null

)

select * from violations

