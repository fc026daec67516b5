
    
    

with child as (
    select code as from_field
    from "warehouse"."analytics"."candle_ohlcv_hourly"
    where code is not null
),

parent as (
    select code as to_field
    from "warehouse"."analytics"."market_candle"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


