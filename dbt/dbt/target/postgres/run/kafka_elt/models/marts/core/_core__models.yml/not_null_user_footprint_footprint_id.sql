
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select footprint_id
from "warehouse"."analytics"."user_footprint"
where footprint_id is null



  
  
      
    ) dbt_internal_test