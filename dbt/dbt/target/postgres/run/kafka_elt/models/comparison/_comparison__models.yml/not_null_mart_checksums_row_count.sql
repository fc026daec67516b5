
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select row_count
from "warehouse"."analytics"."mart_checksums"
where row_count is null



  
  
      
    ) dbt_internal_test