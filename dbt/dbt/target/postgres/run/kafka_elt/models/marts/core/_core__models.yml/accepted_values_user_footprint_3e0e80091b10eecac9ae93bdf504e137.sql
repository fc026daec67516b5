
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with all_values as (

    select
        request as value_field,
        count(*) as n_records

    from "warehouse"."analytics"."user_footprint"
    group by request

)

select *
from all_values
where value_field not in (
    'GET','HEAD','POST','PUT','PATCH','DELETE','OPTIONS','CONNECT','TRACE'
)



  
  
      
    ) dbt_internal_test