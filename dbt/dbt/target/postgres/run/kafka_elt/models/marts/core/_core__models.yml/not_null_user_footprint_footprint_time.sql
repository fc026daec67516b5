
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select footprint_time
from "warehouse"."analytics"."user_footprint"
where footprint_time is null



  
  
      
    ) dbt_internal_test