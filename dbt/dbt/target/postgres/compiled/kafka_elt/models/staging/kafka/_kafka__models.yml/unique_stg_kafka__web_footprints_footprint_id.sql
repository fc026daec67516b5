
    
    

select
    footprint_id as unique_field,
    count(*) as n_records

from (select * from "warehouse"."analytics"."stg_kafka__web_footprints" where ingested_at >= now() - interval '1 hours') dbt_subquery
where footprint_id is not null
group by footprint_id
having count(*) > 1


