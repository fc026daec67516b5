
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select candle_timestamp
from (select * from "warehouse"."analytics"."stg_kafka__market_candles" where ingested_at >= now() - interval '1 hours') dbt_subquery
where candle_timestamp is null



  
  
      
    ) dbt_internal_test