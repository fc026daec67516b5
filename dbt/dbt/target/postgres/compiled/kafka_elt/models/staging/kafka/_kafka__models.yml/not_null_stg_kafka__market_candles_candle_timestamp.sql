
    
    



select candle_timestamp
from (select * from "warehouse"."analytics"."stg_kafka__market_candles" where ingested_at >= now() - interval '1 hours') dbt_subquery
where candle_timestamp is null


