

with

grain as (

    select
        kafka_topic, kafka_partition, kafka_offset,
        count(*) as row_count

    from (select * from "warehouse"."analytics"."stg_kafka__market_candles" where ingested_at >= now() - interval '1 hours') dbt_subquery
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

