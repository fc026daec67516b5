
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select http_method
from (select * from "warehouse"."analytics"."stg_kafka__web_footprints" where ingested_at >= now() - interval '1 hours') dbt_subquery
where http_method is null



  
  
      
    ) dbt_internal_test