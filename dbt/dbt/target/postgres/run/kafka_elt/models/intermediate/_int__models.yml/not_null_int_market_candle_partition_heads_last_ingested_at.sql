
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select last_ingested_at
from "warehouse"."analytics"."int_market_candle_partition_heads"
where last_ingested_at is null



  
  
      
    ) dbt_internal_test