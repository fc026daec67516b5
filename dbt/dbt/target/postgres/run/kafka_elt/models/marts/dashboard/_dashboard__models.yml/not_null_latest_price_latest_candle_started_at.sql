
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select latest_candle_started_at
from "warehouse"."analytics"."latest_price"
where latest_candle_started_at is null



  
  
      
    ) dbt_internal_test