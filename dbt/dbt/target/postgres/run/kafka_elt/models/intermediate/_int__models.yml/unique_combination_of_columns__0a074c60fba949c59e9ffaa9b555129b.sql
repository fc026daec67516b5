
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

with

grain as (

    select
        code, candle_timestamp, kafka_partition,
        count(*) as row_count

    from "warehouse"."analytics"."int_market_candle_partition_heads"
    group by code, candle_timestamp, kafka_partition

),

violations as (

    select * from grain
    where
        row_count > 1
        or code is null
        or candle_timestamp is null
        or kafka_partition is null

)

select * from violations


  
  
      
    ) dbt_internal_test