-- One row per raw page-visit event: decoded, typed, footprint time converted to UTC.
with

 __dbt__cte__kafka__web_logs as (

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
), source as (

    select * from __dbt__cte__kafka__web_logs 

),

unwrapped as (

    select
        source.*,
        parsed.is_connect_envelope,
        parsed.payload

    from source
    cross join lateral (
        select
            coalesce(
        jsonb_typeof(message_json.message) = 'object'
        and (message_json.message) ? 'schema'
        and jsonb_typeof((message_json.message) -> 'payload') = 'object',
        false
    ) as is_connect_envelope,
            case
        when coalesce(
        jsonb_typeof(message_json.message) = 'object'
        and (message_json.message) ? 'schema'
        and jsonb_typeof((message_json.message) -> 'payload') = 'object',
        false
    ) then (message_json.message) -> 'payload'
        else message_json.message
    end as payload
        from (
            select cast(source.kafka_value as jsonb) as message
            limit all offset 0
        ) as message_json
        limit all offset 0
    ) as parsed

),

renamed as (

    select
        -- Kafka coordinates: the identity of the event
        md5(concat(
        coalesce(cast(kafka_topic as text), '\N'), '|',
        coalesce(cast(cast(kafka_partition as bigint) as text), '\N'), '|',
        coalesce(cast(cast(kafka_offset as bigint) as text), '\N')
    )) as footprint_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,

        -- visit
        case
        when jsonb_typeof((payload) -> 'link') = 'string'
            then (payload) ->> 'link'
    end as link,
        case
        when jsonb_typeof((payload) -> 'method') = 'string'
            then (payload) ->> 'method'
    end as http_method,
        case
        when jsonb_typeof((payload) -> 'footprint_time') = 'string'
            then (payload) ->> 'footprint_time'
    end as footprint_time_text,

        -- message metadata
        date_trunc('milliseconds', kafka_timestamp) as produced_at,
        ingested_at,
        dag_run_id

    from unwrapped

),

final as (

    select
        footprint_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,
        link,
        -- the link without query string or fragment: what page was visited
        regexp_replace(link, '[?#].*$', '') as link_path,
        http_method,
        case
        when (footprint_time_text) ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?$'
            then cast(
                regexp_replace(
                    regexp_replace(footprint_time_text, '([.][0-9]{6})[0-9]+', '\1'),
                    '([0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?)$',
                    '\1Z'
                ) as timestamptz
            )
    end as footprint_at,
        produced_at,
        ingested_at,
        dag_run_id

    from renamed

)

select * from final