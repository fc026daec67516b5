
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select open_price
from "warehouse"."analytics"."candle_ohlcv_hourly"
where open_price is null



  
  
      
    ) dbt_internal_test