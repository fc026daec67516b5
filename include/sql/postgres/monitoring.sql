-- The engine comparison's results, in PostgreSQL schema monitoring (owned by the loader
-- role, which Airflow's warehouse_postgres connection logs in as). Written by the
-- dashboard_benchmark DAG, read by the "Engine comparison" page in the Airflow UI.
-- Idempotent: applied at the start of every benchmark run. Tables keep every run
-- (history, for trends); the views answer "what does the latest run say".

-- One row per query, engine and run. A retried task upserts its rows, so a run never
-- holds two measurements of one query on one engine.
create table if not exists monitoring.benchmark_result (
    run_id text not null,
    run_at timestamptz not null,
    query_name text not null,
    engine text not null,
    min_ms double precision not null,
    median_ms double precision not null,
    p95_ms double precision not null,
    rows_returned bigint not null,
    repetitions integer not null,
    warmups integer not null,
    -- {"<mart>": <rows>} of this engine's marts when the run started: latency only
    -- means something next to the data volume it was measured at.
    mart_sizes jsonb not null,
    -- SHA-256 of the normalised answer (kafka_elt.dashboard.compare.result_hash).
    result_hash text not null,
    -- Did both engines return the same rows for this query in this run?
    engines_agree boolean not null,
    recorded_at timestamptz not null default now(),
    primary key (run_id, query_name, engine),
    constraint benchmark_result_engine_check check (engine in ('postgres', 'clickhouse')),
    constraint benchmark_result_latency_check check (0 <= min_ms and min_ms <= median_ms and median_ms <= p95_ms),
    constraint benchmark_result_repetitions_check check (repetitions >= 1 and warmups >= 0)
);

create index if not exists benchmark_result_run_at_idx on monitoring.benchmark_result (run_at desc);

-- The dbt build (dbt_build_log.build_id: the dbt_marts run id) that both engines held,
-- finished, before and after this query's runs: the answers compared are of one build.
-- NULL in rows written before the benchmark checked builds.
alter table monitoring.benchmark_result add column if not exists build_id text;

-- Row count and checksum of every mart in each engine, as the dbt comparison model
-- reports them, snapshotted by each benchmark run.
create table if not exists monitoring.mart_checksum (
    run_id text not null,
    taken_at timestamptz not null,
    mart_name text not null,
    engine text not null,
    row_count bigint not null,
    -- Named as in the dbt comparison model, although sqlfluff counts it as a keyword.
    checksum text not null,  -- noqa: RF04
    primary key (run_id, mart_name, engine),
    constraint mart_checksum_engine_check check (engine in ('postgres', 'clickhouse'))
);

create index if not exists mart_checksum_taken_at_idx on monitoring.mart_checksum (taken_at desc);

-- The dbt build both engines held while the checksums were read (as in benchmark_result).
alter table monitoring.mart_checksum add column if not exists build_id text;

-- Newest Kafka message timestamp in a raw table, and the newest one that has made it
-- into a mart built from it, per engine.
create table if not exists monitoring.freshness (
    run_id text not null,
    taken_at timestamptz not null,
    engine text not null,
    raw_table text not null,
    mart_name text not null,
    raw_newest_kafka_at timestamptz,
    mart_newest_kafka_at timestamptz,
    primary key (run_id, engine, raw_table, mart_name),
    constraint freshness_engine_check check (engine in ('postgres', 'clickhouse'))
);

create index if not exists freshness_taken_at_idx on monitoring.freshness (taken_at desc);

-- Views are dropped and recreated so that a changed column list applies (create or
-- replace view cannot drop or reorder columns). Nothing depends on them but readers.
drop view if exists monitoring.benchmark_last_run;
drop view if exists monitoring.engine_latency_ratio;
drop view if exists monitoring.mart_agreement;
drop view if exists monitoring.data_freshness;

-- The latest benchmark run: when, how many queries, whether every answer agreed.
create view monitoring.benchmark_last_run as
with latest as (
    select run_id
    from monitoring.benchmark_result
    order by run_at desc, run_id desc
    limit 1
)

select
    r.run_id,
    min(r.run_at) as run_at,
    max(r.recorded_at) as finished_at,
    count(distinct r.query_name) as queries,
    count(*) as measurements,
    max(r.repetitions) as repetitions,
    max(r.warmups) as warmups,
    bool_and(r.engines_agree) as all_agree
from monitoring.benchmark_result as r
inner join latest on r.run_id = latest.run_id
group by r.run_id;

-- Per query, from the latest run: each engine's latency and the ClickHouse/PostgreSQL
-- ratio of medians (below 1: ClickHouse is faster).
create view monitoring.engine_latency_ratio as
with latest as (
    select run_id
    from monitoring.benchmark_result
    order by run_at desc, run_id desc
    limit 1
),

pivoted as (
    select
        r.query_name,
        r.run_id,
        min(r.run_at) as run_at,
        max(r.min_ms) filter (where r.engine = 'postgres') as postgres_min_ms,
        max(r.median_ms) filter (where r.engine = 'postgres') as postgres_median_ms,
        max(r.p95_ms) filter (where r.engine = 'postgres') as postgres_p95_ms,
        max(r.min_ms) filter (where r.engine = 'clickhouse') as clickhouse_min_ms,
        max(r.median_ms) filter (where r.engine = 'clickhouse') as clickhouse_median_ms,
        max(r.p95_ms) filter (where r.engine = 'clickhouse') as clickhouse_p95_ms,
        max(r.rows_returned) filter (where r.engine = 'postgres') as postgres_rows,
        max(r.rows_returned) filter (where r.engine = 'clickhouse') as clickhouse_rows,
        max(r.result_hash) filter (where r.engine = 'postgres') as postgres_result_hash,
        max(r.result_hash) filter (where r.engine = 'clickhouse') as clickhouse_result_hash,
        bool_and(r.engines_agree) as results_agree
    from monitoring.benchmark_result as r
    inner join latest on r.run_id = latest.run_id
    group by r.query_name, r.run_id
)

select
    query_name,
    run_id,
    run_at,
    postgres_min_ms,
    postgres_median_ms,
    postgres_p95_ms,
    clickhouse_min_ms,
    clickhouse_median_ms,
    clickhouse_p95_ms,
    clickhouse_median_ms / nullif(postgres_median_ms, 0) as clickhouse_to_postgres_ratio,
    postgres_rows,
    clickhouse_rows,
    postgres_result_hash,
    clickhouse_result_hash,
    results_agree
from pivoted;

-- Per mart, from the latest snapshot: rows and checksum in each engine, and whether
-- they agree. A mart missing from one engine shows NULLs there and does not agree.
create view monitoring.mart_agreement as
with latest as (
    select run_id
    from monitoring.mart_checksum
    order by taken_at desc, run_id desc
    limit 1
),

pivoted as (
    select
        c.mart_name,
        c.run_id,
        min(c.taken_at) as taken_at,
        max(c.row_count) filter (where c.engine = 'postgres') as postgres_rows,
        max(c.row_count) filter (where c.engine = 'clickhouse') as clickhouse_rows,
        max(c.checksum) filter (where c.engine = 'postgres') as postgres_checksum,
        max(c.checksum) filter (where c.engine = 'clickhouse') as clickhouse_checksum
    from monitoring.mart_checksum as c
    inner join latest on c.run_id = latest.run_id
    group by c.mart_name, c.run_id
)

select
    mart_name,
    run_id,
    taken_at,
    postgres_rows,
    clickhouse_rows,
    postgres_checksum,
    clickhouse_checksum,
    coalesce(
        postgres_rows = clickhouse_rows and postgres_checksum = clickhouse_checksum, false
    ) as agree
from pivoted;

-- From the latest snapshot: how far each mart lags the raw table it is built from.
create view monitoring.data_freshness as
with latest as (
    select run_id
    from monitoring.freshness
    order by taken_at desc, run_id desc
    limit 1
)

select
    f.engine,
    f.raw_table,
    f.mart_name,
    f.run_id,
    f.taken_at,
    f.raw_newest_kafka_at,
    f.mart_newest_kafka_at,
    extract(epoch from f.raw_newest_kafka_at - f.mart_newest_kafka_at) as mart_lag_seconds
from monitoring.freshness as f
inner join latest on f.run_id = latest.run_id;
