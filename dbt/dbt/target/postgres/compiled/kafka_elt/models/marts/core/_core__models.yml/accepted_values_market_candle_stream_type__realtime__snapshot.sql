
    
    

with all_values as (

    select
        stream_type as value_field,
        count(*) as n_records

    from "warehouse"."analytics"."market_candle"
    group by stream_type

)

select *
from all_values
where value_field not in (
    'realtime','snapshot'
)


