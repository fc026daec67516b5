
-- Fixture for market_candle
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090060 as bigint)
 as "timestamp", 
    
    cast(11 as numeric(38,10))
 as "opening_price", 
    
    cast(15 as numeric(38,10))
 as "high_price", 
    
    cast(9 as numeric(38,10))
 as "low_price", 
    
    cast(12 as numeric(38,10))
 as "trade_price", 
    
    cast(2.5 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(30 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 07:41:59+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "timestamp", 
    
    cast(10 as numeric(38,10))
 as "opening_price", 
    
    cast(12 as numeric(38,10))
 as "high_price", 
    
    cast(8 as numeric(38,10))
 as "low_price", 
    
    cast(11 as numeric(38,10))
 as "trade_price", 
    
    cast(1.5 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(16 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 07:40:59+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617093540 as bigint)
 as "timestamp", 
    
    cast(13 as numeric(38,10))
 as "opening_price", 
    
    cast(14 as numeric(38,10))
 as "high_price", 
    
    cast(12 as numeric(38,10))
 as "low_price", 
    
    cast(13.5 as numeric(38,10))
 as "trade_price", 
    
    cast(1 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(13 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 08:39:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 08:39:59+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617091140 as bigint)
 as "timestamp", 
    
    cast(12 as numeric(38,10))
 as "opening_price", 
    
    cast(13 as numeric(38,10))
 as "high_price", 
    
    cast(11 as numeric(38,10))
 as "low_price", 
    
    cast(12.5 as numeric(38,10))
 as "trade_price", 
    
    cast(1 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(12 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:59:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 08:00:01+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"