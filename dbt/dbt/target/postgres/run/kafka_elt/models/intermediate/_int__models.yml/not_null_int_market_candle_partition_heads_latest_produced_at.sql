
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select latest_produced_at
from "warehouse"."analytics"."int_market_candle_partition_heads"
where latest_produced_at is null



  
  
      
    ) dbt_internal_test