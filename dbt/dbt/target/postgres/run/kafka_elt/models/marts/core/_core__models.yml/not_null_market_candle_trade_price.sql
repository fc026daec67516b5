
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select trade_price
from "warehouse"."analytics"."market_candle"
where trade_price is null



  
  
      
    ) dbt_internal_test