
    
    

with child as (
    select link_path as from_field
    from "warehouse"."analytics"."page_views_hourly"
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


