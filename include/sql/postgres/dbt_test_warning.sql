-- dbt tests at warn severity that found rows: data-quality findings that do not stop
-- the marts (see "Data contract" in the README). Written by dbt_marts after each build,
-- one row per build and test; shown on the Engine comparison page. Idempotent.
create table if not exists monitoring.dbt_test_warning (
    build_id text not null,
    target text not null,
    test_id text not null,
    failing_rows bigint,
    message text not null,
    recorded_at timestamptz not null default now(),
    primary key (build_id, target, test_id)
);

create index if not exists dbt_test_warning_recorded_at_idx on monitoring.dbt_test_warning (recorded_at);
