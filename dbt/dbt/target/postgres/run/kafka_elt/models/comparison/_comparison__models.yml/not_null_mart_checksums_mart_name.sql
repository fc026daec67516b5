
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select mart_name
from "warehouse"."analytics"."mart_checksums"
where mart_name is null



  
  
      
    ) dbt_internal_test