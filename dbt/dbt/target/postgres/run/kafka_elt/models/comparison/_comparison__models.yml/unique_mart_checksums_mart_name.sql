
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

select
    mart_name as unique_field,
    count(*) as n_records

from "warehouse"."analytics"."mart_checksums"
where mart_name is not null
group by mart_name
having count(*) > 1



  
  
      
    ) dbt_internal_test