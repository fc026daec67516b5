
-- Fixture for market_candle
select 
    
    cast('market_candle' as text)
 as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(1 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"schema": {"type": "struct", "name": "market_candle", "optional": false, "fields": [{"field": "type", "type": "string"}]}, "payload": {"type": "candle", "code": "BTC-USD", "opening_price": 45000.0, "high_price": 46000.0, "low_price": 44000.0, "trade_price": 45500.0, "candle_acc_trade_volume": 1234.5, "candle_acc_trade_price": 56000000.0, "timestamp": 1617090000, "stream_type": "realtime"}}' as text)
 as "kafka_value", 
    
    cast('2021-03-30 07:40:01.250+00:00' as timestamp with time zone)
 as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", 
    
    cast('2021-03-30 07:40:02+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id"
union all
select 
    
    cast('market_candle' as text)
 as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(9 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"type": "candle", "code": "ETH-USD", "opening_price": 0.1, "high_price": 0.30000000000000004, "low_price": 1e-05, "trade_price": 0.2, "candle_acc_trade_volume": 12.345678901234, "candle_acc_trade_price": 3, "timestamp": 1617090060, "stream_type": "snapshot"}' as text)
 as "kafka_value", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", 
    
    cast('2021-03-30 07:41:02+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id"