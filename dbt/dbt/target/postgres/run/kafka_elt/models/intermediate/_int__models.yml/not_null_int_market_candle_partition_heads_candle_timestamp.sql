
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select candle_timestamp
from "warehouse"."analytics"."int_market_candle_partition_heads"
where candle_timestamp is null



  
  
      
    ) dbt_internal_test