-- Volume leaders: the 10 codes with the highest traded value over their last 24 hours
-- Ties in value are broken by the code: ClickHouse compares bytes, and so does the
-- stack's PostgreSQL (its cluster's collation is C.UTF-8).
with

latest_price as (
    select
        code,
        trade_value_24h,
        trade_volume_24h,
        latest_trade_price
    from analytics.latest_price
    where trade_value_24h is not null
)

select * from latest_price
order by trade_value_24h desc, code asc
limit 10
