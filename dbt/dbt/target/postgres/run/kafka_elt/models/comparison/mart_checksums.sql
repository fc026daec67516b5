
  
    

  create  table "warehouse"."analytics"."mart_checksums__dbt_tmp"
  
  
    as
  
  (
    

with

market_candle as (

    select * from "warehouse"."analytics"."market_candle"

),

user_footprint as (

    select * from "warehouse"."analytics"."user_footprint"

),

page_views_hourly as (

    select * from "warehouse"."analytics"."page_views_hourly"

),

top_links_daily as (

    select * from "warehouse"."analytics"."top_links_daily"

),

candle_ohlcv_hourly as (

    select * from "warehouse"."analytics"."candle_ohlcv_hourly"

),

latest_price as (

    select * from "warehouse"."analytics"."latest_price"

),

checksums as (

    select
        cast('market_candle' as TEXT) as mart_name,
        cast(count(*) as bigint) as row_count,
        cast(coalesce(sum(cast(cast(cast('x' || left(md5(concat(
        coalesce(cast(type as text), '\N'), '|',
        coalesce(cast(code as text), '\N'), '|',
        coalesce(cast(cast("timestamp" as bigint) as text), '\N'), '|',
        coalesce(cast(cast(opening_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(high_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(low_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(trade_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(candle_acc_trade_volume as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(candle_acc_trade_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(stream_type as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from candle_started_at) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from updated_at) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(cast(cast(kafka_partition as bigint) as text), '\N'), '|',
        coalesce(cast(cast(kafka_offset as bigint) as text), '\N')
    )), 15) as bit(60)) as bigint) as numeric)), 0) % 18446744073709551616 as numeric(20, 0)) as checksum
    from market_candle

    union all

    select
        cast('user_footprint' as TEXT) as mart_name,
        cast(count(*) as bigint) as row_count,
        cast(coalesce(sum(cast(cast(cast('x' || left(md5(concat(
        coalesce(cast(footprint_id as text), '\N'), '|',
        coalesce(cast(kafka_topic as text), '\N'), '|',
        coalesce(cast(cast(kafka_partition as bigint) as text), '\N'), '|',
        coalesce(cast(cast(kafka_offset as bigint) as text), '\N'), '|',
        coalesce(cast(link as text), '\N'), '|',
        coalesce(cast(request as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from footprint_time) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(cast(link_path as text), '\N'), '|',
        coalesce(to_char(visit_date, 'YYYY-MM-DD'), '\N'), '|',
        coalesce(cast(cast(extract(epoch from produced_at) * 1000000 as bigint) as text), '\N')
    )), 15) as bit(60)) as bigint) as numeric)), 0) % 18446744073709551616 as numeric(20, 0)) as checksum
    from user_footprint

    union all

    select
        cast('page_views_hourly' as TEXT) as mart_name,
        cast(count(*) as bigint) as row_count,
        cast(coalesce(sum(cast(cast(cast('x' || left(md5(concat(
        coalesce(cast(cast(extract(epoch from hour_started_at) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(to_char(visit_date, 'YYYY-MM-DD'), '\N'), '|',
        coalesce(cast(link_path as text), '\N'), '|',
        coalesce(cast(cast(page_view_count as bigint) as text), '\N')
    )), 15) as bit(60)) as bigint) as numeric)), 0) % 18446744073709551616 as numeric(20, 0)) as checksum
    from page_views_hourly

    union all

    select
        cast('top_links_daily' as TEXT) as mart_name,
        cast(count(*) as bigint) as row_count,
        cast(coalesce(sum(cast(cast(cast('x' || left(md5(concat(
        coalesce(to_char(visit_date, 'YYYY-MM-DD'), '\N'), '|',
        coalesce(cast(cast(link_rank as bigint) as text), '\N'), '|',
        coalesce(cast(link_path as text), '\N'), '|',
        coalesce(cast(cast(page_view_count as bigint) as text), '\N')
    )), 15) as bit(60)) as bigint) as numeric)), 0) % 18446744073709551616 as numeric(20, 0)) as checksum
    from top_links_daily

    union all

    select
        cast('candle_ohlcv_hourly' as TEXT) as mart_name,
        cast(count(*) as bigint) as row_count,
        cast(coalesce(sum(cast(cast(cast('x' || left(md5(concat(
        coalesce(cast(code as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from hour_started_at) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(cast(cast(open_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(high_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(low_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(close_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(trade_volume as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(trade_value as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(candle_count as bigint) as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from last_updated_at) * 1000000 as bigint) as text), '\N')
    )), 15) as bit(60)) as bigint) as numeric)), 0) % 18446744073709551616 as numeric(20, 0)) as checksum
    from candle_ohlcv_hourly

    union all

    select
        cast('latest_price' as TEXT) as mart_name,
        cast(count(*) as bigint) as row_count,
        cast(coalesce(sum(cast(cast(cast('x' || left(md5(concat(
        coalesce(cast(code as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from latest_candle_started_at) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(cast(cast(latest_trade_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from updated_at) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(cast(cast(extract(epoch from reference_candle_started_at) * 1000000 as bigint) as text), '\N'), '|',
        coalesce(cast(cast(reference_trade_price as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(change_24h as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(change_24h_pct as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(trade_volume_24h as numeric(38, 10)) as text), '\N'), '|',
        coalesce(cast(cast(trade_value_24h as numeric(38, 10)) as text), '\N')
    )), 15) as bit(60)) as bigint) as numeric)), 0) % 18446744073709551616 as numeric(20, 0)) as checksum
    from latest_price

),

final as (

    select * from checksums

)

select * from final
  );
  