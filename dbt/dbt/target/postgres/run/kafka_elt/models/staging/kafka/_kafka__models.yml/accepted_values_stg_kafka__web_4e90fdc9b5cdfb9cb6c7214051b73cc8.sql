
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with all_values as (

    select
        http_method as value_field,
        count(*) as n_records

    from (select * from "warehouse"."analytics"."stg_kafka__web_footprints" where ingested_at >= now() - interval '1 hours') dbt_subquery
    group by http_method

)

select *
from all_values
where value_field not in (
    'GET','HEAD','POST','PUT','PATCH','DELETE','OPTIONS','CONNECT','TRACE'
)



  
  
      
    ) dbt_internal_test