
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select visit_date
from "warehouse"."analytics"."page_views_hourly"
where visit_date is null



  
  
      
    ) dbt_internal_test