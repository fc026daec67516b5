{#-
    One row per candle (code, "timestamp"): the latest message for it.

    "Latest" is one total order over the messages of a candle, so that the winner does
    not depend on the order in which messages were ingested (incremental == full
    rebuild, on both engines):
      1. Within a Kafka partition, offset order: the partition's last message is its
         candidate (int_market_candle_partition_heads).
      2. Across partitions, the candidate whose partition saw the newest Kafka
         timestamp (up to and including that candidate) wins.
      3. An exact tie on that timestamp goes to the higher partition number: an
         arbitrary but deterministic rule, the same on both engines.
    With keyed messages (all of a candle in one partition) this is plain offset order.
    record_version encodes steps 2 and 3 as one increasing number.

    Incremental: only candles with a partition head written since the newest run this
    table holds (built_at) are recomputed, from all their partition heads; the rows
    whose winner changed are upserted by (code, "timestamp").
-#}
{{
    config(
        unique_key=['code', 'timestamp'],
        incremental_strategy=kafka_elt.upsert_strategy(),
        settings=kafka_elt.upsert_table_settings(),
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['code', 'timestamp'], 'unique': True},
            {'columns': ['last_ingested_at']},
            {'columns': ['updated_at']},
            {'columns': ['built_at']},
        ]),
        engine='ReplacingMergeTree(record_version)',
        order_by=['code', 'timestamp'],
        partition_by='toYYYYMM(candle_started_at)',
    )
}}

{#- read once: on PostgreSQL it asks the table for its newest built_at (rows.sql) -#}
{%- set written_since_last_run = kafka_elt.newer_than_stored('changed.built_at', 'built_at') if is_incremental() else none %}

with

partition_heads as (

    select * from {{ ref('int_market_candle_partition_heads') }}
    {% if is_incremental() %}
    -- every partition head of the candles with a head written since the last run
    where (code, candle_timestamp) in (
        select
            changed.code,
            changed.candle_timestamp
        from {{ ref('int_market_candle_partition_heads') }} as changed
        where {{ written_since_last_run }}
    )
    {% endif %}

),

{% if is_incremental() %}
stored_candles as (

    select
        code,
        "timestamp",
        kafka_partition,
        kafka_offset,
        record_version
    from {{ this }}
    where (code, "timestamp") in (
        select
            changed.code,
            changed.candle_timestamp
        from {{ ref('int_market_candle_partition_heads') }} as changed
        where {{ written_since_last_run }}
    )

),
{% endif %}

ranked as (

    select
        *,
        row_number() over (
            partition by code, candle_timestamp
            order by latest_produced_at desc, kafka_partition desc
        ) as recency_rank,
        max(last_ingested_at) over (
            partition by code, candle_timestamp
        ) as candle_last_ingested_at,
        max(built_at) over (
            partition by code, candle_timestamp
        ) as candle_built_at

    from partition_heads

),

winners as (

    select
        -- the old sink's columns (public.market_candle), same names and meaning
        candle_type as type,
        code,
        candle_timestamp as "timestamp",
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        stream_type,

        -- when the candle starts (UTC) and when it was last updated (the Kafka
        -- timestamp that made the winning message latest)
        candle_started_at,
        latest_produced_at as updated_at,

        -- lineage of the winning message
        kafka_partition,
        kafka_offset,
        cast(
            {{ kafka_elt.epoch_milliseconds('latest_produced_at') }} * 1000000 + kafka_partition
            as {{ dbt.type_bigint() }}
        ) as record_version,
        candle_last_ingested_at as last_ingested_at,
        -- the newest dbt run that wrote one of the candle's heads: the next run reads
        -- the heads written after it
        candle_built_at as built_at

    from ranked
    where recency_rank = 1

),

typed as (

    select winners.*
    from winners
    {% if is_incremental() %}
    -- only candles whose winning message changed
    left join stored_candles
        on
            winners.code = stored_candles.code
            and winners."timestamp" = stored_candles."timestamp"
    where
        stored_candles.code is null
        or winners.kafka_partition != stored_candles.kafka_partition
        or winners.kafka_offset != stored_candles.kafka_offset
        or winners.record_version != stored_candles.record_version
    {% endif %}

),

final as (

    select
        typed.*,
        -- what mart_checksums sums (macros/checksum_columns.sql)
        {{ kafka_elt.row_checksum('market_candle') }} as row_checksum

    from typed

)

select * from final
