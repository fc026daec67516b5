
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select opening_price
from "warehouse"."analytics"."market_candle"
where opening_price is null



  
  
      
    ) dbt_internal_test