
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select code
from (select * from "warehouse"."analytics"."stg_kafka__market_candles" where ingested_at >= now() - interval '1 hours') dbt_subquery
where code is null



  
  
      
    ) dbt_internal_test