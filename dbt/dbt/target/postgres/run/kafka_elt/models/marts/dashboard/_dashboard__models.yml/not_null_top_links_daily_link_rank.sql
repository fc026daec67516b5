
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select link_rank
from "warehouse"."analytics"."top_links_daily"
where link_rank is null



  
  
      
    ) dbt_internal_test