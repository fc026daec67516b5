
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select kafka_partition
from "warehouse"."analytics"."int_market_candle_partition_heads"
where kafka_partition is null



  
  
      
    ) dbt_internal_test