

with

bars as (

    select * from "warehouse"."analytics"."candle_ohlcv_hourly"

),

violations as (

    select * from bars
    where not coalesce(
        low_price <= least(open_price, close_price)
        and least(open_price, close_price) <= greatest(open_price, close_price)
        and greatest(open_price, close_price) <= high_price,
        false
    )

)

select * from violations

