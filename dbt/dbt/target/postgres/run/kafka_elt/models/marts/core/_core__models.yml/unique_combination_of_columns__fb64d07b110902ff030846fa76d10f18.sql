
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

with

grain as (

    select
        kafka_topic, kafka_partition, kafka_offset,
        count(*) as row_count

    from "warehouse"."analytics"."user_footprint"
    group by kafka_topic, kafka_partition, kafka_offset

),

violations as (

    select * from grain
    where
        row_count > 1
        or kafka_topic is null
        or kafka_partition is null
        or kafka_offset is null

)

select * from violations


  
  
      
    ) dbt_internal_test