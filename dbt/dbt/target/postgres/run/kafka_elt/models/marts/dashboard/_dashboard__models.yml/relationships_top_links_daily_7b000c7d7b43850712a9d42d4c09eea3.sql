
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    

with child as (
    select link_path as from_field
    from "warehouse"."analytics"."top_links_daily"
    where link_path is not null
),

parent as (
    select link_path as to_field
    from "warehouse"."analytics"."user_footprint"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null



  
  
      
    ) dbt_internal_test