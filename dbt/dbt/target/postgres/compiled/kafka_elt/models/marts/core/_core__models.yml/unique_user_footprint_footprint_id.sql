
    
    

select
    footprint_id as unique_field,
    count(*) as n_records

from "warehouse"."analytics"."user_footprint"
where footprint_id is not null
group by footprint_id
having count(*) > 1


