
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    footprint_id as unique_field,
    count(*) as n_records

from "warehouse"."analytics"."user_footprint"
where footprint_id is not null
group by footprint_id
having count(*) > 1



  
  
      
    ) dbt_internal_test