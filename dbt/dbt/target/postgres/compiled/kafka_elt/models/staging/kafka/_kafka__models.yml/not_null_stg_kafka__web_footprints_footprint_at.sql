
    
    



select footprint_at
from (select * from "warehouse"."analytics"."stg_kafka__web_footprints" where ingested_at >= now() - interval '1 hours') dbt_subquery
where footprint_at is null


