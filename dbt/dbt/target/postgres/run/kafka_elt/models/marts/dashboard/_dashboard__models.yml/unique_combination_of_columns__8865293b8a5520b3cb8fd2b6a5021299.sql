
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

with

grain as (

    select
        visit_date, link_rank,
        count(*) as row_count

    from "warehouse"."analytics"."top_links_daily"
    group by visit_date, link_rank

),

violations as (

    select * from grain
    where
        row_count > 1
        or visit_date is null
        or link_rank is null

)

select * from violations


  
  
      
    ) dbt_internal_test