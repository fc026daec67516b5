
-- Fixture for int_market_candle_partition_heads
select 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(11 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(101 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:03+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:05+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(7 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(102 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:04+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:04+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:30+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(3 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(50 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(2 as integer)
 as "kafka_partition", 
    
    cast(4 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(51 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090060 as bigint)
 as "candle_timestamp", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(5 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(52 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"