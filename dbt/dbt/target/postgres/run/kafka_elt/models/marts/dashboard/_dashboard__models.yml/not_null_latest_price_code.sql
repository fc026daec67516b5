
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select code
from "warehouse"."analytics"."latest_price"
where code is null



  
  
      
    ) dbt_internal_test