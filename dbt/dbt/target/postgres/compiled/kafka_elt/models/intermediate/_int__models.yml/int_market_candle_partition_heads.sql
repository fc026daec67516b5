
select
    cast('BTC-USD' as TEXT) as code,
    cast(1617090000 as bigint) as candle_timestamp,
    cast(0 as integer) as kafka_partition,
    cast(11 as bigint) as kafka_offset,
    cast('candle' as TEXT) as candle_type,
    cast(101 as numeric(38, 10)) as opening_price,
    cast(101 as numeric(38, 10)) as high_price,
    cast(101 as numeric(38, 10)) as low_price,
    cast(101 as numeric(38, 10)) as trade_price,
    cast(1 as numeric(38, 10)) as candle_acc_trade_volume,
    cast(101 as numeric(38, 10)) as candle_acc_trade_price,
    cast('realtime' as TEXT) as stream_type,
    cast('2021-03-30 07:40:00+00:00' as timestamptz) as candle_started_at,
    cast('2021-03-30 07:40:03+00:00' as timestamptz) as produced_at,
    cast('2021-03-30 07:40:05+00:00' as timestamptz) as latest_produced_at,
    cast('2021-03-30 07:41:00+00:00' as timestamptz) as last_ingested_at
union all

select
    cast('BTC-USD' as TEXT) as code,
    cast(1617090000 as bigint) as candle_timestamp,
    cast(1 as integer) as kafka_partition,
    cast(7 as bigint) as kafka_offset,
    cast('candle' as TEXT) as candle_type,
    cast(102 as numeric(38, 10)) as opening_price,
    cast(102 as numeric(38, 10)) as high_price,
    cast(102 as numeric(38, 10)) as low_price,
    cast(102 as numeric(38, 10)) as trade_price,
    cast(1 as numeric(38, 10)) as candle_acc_trade_volume,
    cast(102 as numeric(38, 10)) as candle_acc_trade_price,
    cast('realtime' as TEXT) as stream_type,
    cast('2021-03-30 07:40:00+00:00' as timestamptz) as candle_started_at,
    cast('2021-03-30 07:40:04+00:00' as timestamptz) as produced_at,
    cast('2021-03-30 07:40:04+00:00' as timestamptz) as latest_produced_at,
    cast('2021-03-30 07:41:01+00:00' as timestamptz) as last_ingested_at

