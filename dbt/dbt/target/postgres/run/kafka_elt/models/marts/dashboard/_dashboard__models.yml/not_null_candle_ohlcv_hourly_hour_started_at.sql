
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select hour_started_at
from "warehouse"."analytics"."candle_ohlcv_hourly"
where hour_started_at is null



  
  
      
    ) dbt_internal_test