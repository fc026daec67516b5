
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select request
from "warehouse"."analytics"."user_footprint"
where request is null



  
  
      
    ) dbt_internal_test