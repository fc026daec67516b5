
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

with

checked as (

    select * from "warehouse"."analytics"."page_views_hourly"
    where page_view_count is not null

),

violations as (

    select * from checked
    where not coalesce(page_view_count > 0, false)

)

select * from violations


  
  
      
    ) dbt_internal_test