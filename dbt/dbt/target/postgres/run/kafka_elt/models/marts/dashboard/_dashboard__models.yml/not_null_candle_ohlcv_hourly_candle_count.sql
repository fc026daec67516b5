
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select candle_count
from "warehouse"."analytics"."candle_ohlcv_hourly"
where candle_count is null



  
  
      
    ) dbt_internal_test