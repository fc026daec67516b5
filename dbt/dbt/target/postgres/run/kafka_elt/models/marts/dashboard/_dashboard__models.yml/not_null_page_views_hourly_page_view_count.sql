
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select page_view_count
from "warehouse"."analytics"."page_views_hourly"
where page_view_count is null



  
  
      
    ) dbt_internal_test