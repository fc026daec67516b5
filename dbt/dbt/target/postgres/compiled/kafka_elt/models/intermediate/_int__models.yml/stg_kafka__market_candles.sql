
-- Fixture for stg_kafka__market_candles
select cast(null as text) as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(11 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(101 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:03+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
union all
select cast(null as text) as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(12 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(103 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:04.500+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:42:00+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
union all
select cast(null as text) as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(7 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(102 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:04+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:01+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
union all
select cast(null as text) as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(6 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(99 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:01+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 05:00:00+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"