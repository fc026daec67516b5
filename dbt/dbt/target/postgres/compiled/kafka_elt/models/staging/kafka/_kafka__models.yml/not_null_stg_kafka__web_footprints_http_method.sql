
    
    



select http_method
from (select * from "warehouse"."analytics"."stg_kafka__web_footprints" where ingested_at >= now() - interval '1 hours') dbt_subquery
where http_method is null


