
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select latest_trade_price
from "warehouse"."analytics"."latest_price"
where latest_trade_price is null



  
  
      
    ) dbt_internal_test