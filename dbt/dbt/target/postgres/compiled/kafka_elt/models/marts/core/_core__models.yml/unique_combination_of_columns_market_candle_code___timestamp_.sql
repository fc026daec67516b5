

with

grain as (

    select
        code, "timestamp",
        count(*) as row_count

    from "warehouse"."analytics"."market_candle"
    group by code, "timestamp"

),

violations as (

    select * from grain
    where
        row_count > 1
        or code is null
        or "timestamp" is null

)

select * from violations

