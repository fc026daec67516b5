
    
    

select
    mart_name as unique_field,
    count(*) as n_records

from "warehouse"."analytics"."mart_checksums"
where mart_name is not null
group by mart_name
having count(*) > 1


