
-- Fixture for web_logs
select 
    
    cast('web-logs-topic' as text)
 as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(1 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"link": "/posts/42?ref=home", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"}' as text)
 as "kafka_value", cast(null as timestamp with time zone) as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", cast(null as timestamp with time zone) as "ingested_at", cast(null as text) as "dag_run_id"
union all
select 
    
    cast('web-logs-topic' as text)
 as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(2 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"link": "/about", "method": "POST", "footprint_time": "2025-05-19T04:45:30Z"}' as text)
 as "kafka_value", cast(null as timestamp with time zone) as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", cast(null as timestamp with time zone) as "ingested_at", cast(null as text) as "dag_run_id"
union all
select 
    
    cast('web-logs-topic' as text)
 as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(3 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"link": "/posts/7#comments", "method": "PUT", "footprint_time": "2025-05-18T23:59:59.5-05:00"}' as text)
 as "kafka_value", cast(null as timestamp with time zone) as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", cast(null as timestamp with time zone) as "ingested_at", cast(null as text) as "dag_run_id"
union all
select 
    
    cast('web-logs-topic' as text)
 as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(4 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"link": "/", "method": "DELETE", "footprint_time": "2025-05-19T10:15:30.1234567+05:30"}' as text)
 as "kafka_value", cast(null as timestamp with time zone) as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", cast(null as timestamp with time zone) as "ingested_at", cast(null as text) as "dag_run_id"
union all
select 
    
    cast('web-logs-topic' as text)
 as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(5 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"link": "/x", "method": "GET", "footprint_time": "yesterday"}' as text)
 as "kafka_value", cast(null as timestamp with time zone) as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", cast(null as timestamp with time zone) as "ingested_at", cast(null as text) as "dag_run_id"