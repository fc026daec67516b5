

with

checked as (

    select * from "warehouse"."analytics"."latest_price"
    where reference_candle_started_at is not null

),

violations as (

    select * from checked
    where not coalesce(reference_candle_started_at <= latest_candle_started_at, false)

)

select * from violations

