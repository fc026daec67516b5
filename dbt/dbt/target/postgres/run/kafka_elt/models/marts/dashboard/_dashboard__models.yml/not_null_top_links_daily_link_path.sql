
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select link_path
from "warehouse"."analytics"."top_links_daily"
where link_path is null



  
  
      
    ) dbt_internal_test