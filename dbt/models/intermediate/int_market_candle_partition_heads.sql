{#-
    The state behind "latest message wins": for every candle (code, candle_timestamp)
    and every Kafka partition its messages landed in, the last message of that
    partition (highest offset) and the newest Kafka timestamp seen there.

    Why per partition: Kafka orders messages only within a partition. A keyless
    producer spreads re-sends of one candle over several partitions, where only the
    Kafka timestamp relates them. So "latest" is decided in two steps that together form
    one total order (see market_candle): within a partition, offset order; across
    partitions, the newest Kafka timestamp seen in each partition up to its last
    message. Keeping that running maximum per partition (not only the winner) is what
    makes the incremental result equal to a full rebuild even when a producer's clock
    goes backwards.

    Incremental and idempotent: each run folds the messages after the newest offset
    already folded per partition (after_stored_offsets) into the stored heads with
    max(); folding a message twice would change nothing, and only heads that did change
    are written, stamped with the run (built_at). The index on (kafka_partition,
    kafka_offset) finds the newest offset folded per partition (rows.sql,
    postgres__stored_offsets_query).
-#}
{{
    config(
        unique_key=['code', 'candle_timestamp', 'kafka_partition'],
        incremental_strategy=kafka_elt.upsert_strategy(),
        settings=kafka_elt.upsert_table_settings(),
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['code', 'candle_timestamp', 'kafka_partition'], 'unique': True},
            {'columns': ['built_at']},
            {'columns': ['kafka_partition', 'kafka_offset']},
        ]),
        engine='ReplacingMergeTree(kafka_offset)',
        order_by=['code', 'candle_timestamp', 'kafka_partition'],
    )
}}

with

candle_messages as (

    select * from {{ ref('stg_kafka__market_candles') }} as staged
    where
        -- the offsets after those already folded, first: ClickHouse evaluates AND left
        -- to right and would otherwise compute the others for every raw row
        {{ kafka_elt.after_stored_offsets('staged', has_topic=false, topics_from=kafka_elt.raw_table_of('stg_kafka__market_candles')) }}
        and staged.code is not null
        and staged.candle_timestamp is not null

),

{% if is_incremental() %}
stored_heads as (

    select * from {{ this }}
    where (code, candle_timestamp, kafka_partition) in (
        select
            candle_messages.code,
            candle_messages.candle_timestamp,
            candle_messages.kafka_partition
        from candle_messages
    )

),
{% endif %}

candidates as (

    select
        code,
        candle_timestamp,
        kafka_partition,
        kafka_offset,
        candle_type,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        stream_type,
        candle_started_at,
        produced_at,
        -- a missing Kafka timestamp sorts before every real one
        coalesce(produced_at, {{ kafka_elt.epoch_seconds_to_utc(0) }}) as seen_produced_at,
        ingested_at as seen_ingested_at,
        0 as is_stored

    from candle_messages

    {% if is_incremental() %}
    union all

    select
        code,
        candle_timestamp,
        kafka_partition,
        kafka_offset,
        candle_type,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        stream_type,
        candle_started_at,
        produced_at,
        latest_produced_at as seen_produced_at,
        last_ingested_at as seen_ingested_at,
        1 as is_stored

    from stored_heads
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by code, candle_timestamp, kafka_partition
            order by kafka_offset desc
        ) as offset_rank,
        max(seen_produced_at) over (
            partition by code, candle_timestamp, kafka_partition
        ) as partition_latest_produced_at,
        max(seen_ingested_at) over (
            partition by code, candle_timestamp, kafka_partition
        ) as partition_last_ingested_at,
        -- what the table holds now (NULL for a new head, and on a full build)
        max(case when is_stored = 1 then kafka_offset end) over (
            partition by code, candle_timestamp, kafka_partition
        ) as stored_kafka_offset,
        max(case when is_stored = 1 then seen_produced_at end) over (
            partition by code, candle_timestamp, kafka_partition
        ) as stored_latest_produced_at

    from candidates

),

final as (

    select
        {{ kafka_elt.assume_not_null('code') }} as code,
        {{ kafka_elt.assume_not_null('candle_timestamp') }} as candle_timestamp,
        kafka_partition,
        kafka_offset,
        candle_type,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        stream_type,
        {{ kafka_elt.assume_not_null('candle_started_at') }} as candle_started_at,
        -- the head message's own Kafka timestamp, and the newest one in the partition
        produced_at,
        {{ kafka_elt.assume_not_null('partition_latest_produced_at') }} as latest_produced_at,
        {{ kafka_elt.assume_not_null('partition_last_ingested_at') }} as last_ingested_at,
        -- the dbt run that wrote the head: market_candle reads the heads written since
        -- its own last run
        {{ kafka_elt.run_started() }} as built_at

    from ranked
    where
        offset_rank = 1
        -- new or changed heads only
        and (
            stored_kafka_offset is null
            or kafka_offset != stored_kafka_offset
            or partition_latest_produced_at != stored_latest_produced_at
        )

)

select * from final
