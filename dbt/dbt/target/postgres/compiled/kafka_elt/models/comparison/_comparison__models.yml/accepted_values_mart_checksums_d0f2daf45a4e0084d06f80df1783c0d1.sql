
    
    

with all_values as (

    select
        mart_name as value_field,
        count(*) as n_records

    from "warehouse"."analytics"."mart_checksums"
    group by mart_name

)

select *
from all_values
where value_field not in (
    'market_candle','user_footprint','page_views_hourly','top_links_daily','candle_ohlcv_hourly','latest_price'
)


