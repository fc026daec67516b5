{#-
    The build log: which dbt build each engine's marts hold. Every dbt invocation that
    can change a model (run, build, seed, snapshot, retry) writes one row into
    <target schema>.dbt_build_log of the engine it builds when it starts (on-run-start,
    status 'started') and one when it ends (on-run-end, status 'success' or 'error').
    Insert-only on both engines: no update, no mutation.

    build_id is the DBT_BUILD_ID environment variable when set (else var('build_id'),
    else dbt's invocation id). The dbt_marts DAG sets it to its run id for the builds of
    both targets, so one Airflow run is one build in both engines; a hand-run
    `dbt build --target postgres` is a build of its own. To build both engines by hand
    as one build, give both the same id:
        DBT_BUILD_ID=my-build dbt build --target postgres
        DBT_BUILD_ID=my-build dbt build --target clickhouse
    An environment variable rather than --vars: dbt re-parses the whole project when
    --vars change (measured: 7.7 s instead of 3.2 s per build), not when an environment
    variable read only at run time does.

    The dashboard benchmark (plugins/kafka_elt/dashboard/build_guard.py) compares the
    engines only while both hold the same finished, successful build and none is under
    way: a comparison during a rebuild would report a difference that is not in the data.
    That is why a failure to write the start row fails the build (dbt_project.yml sets
    skip_nodes_if_on_run_start_fails): an unrecorded build would be compared mid-way.

    The table lives beside the marts, owned by dbt's role; readers of the marts (the
    loader role on PostgreSQL, through the schema's default privileges) can read it.
-#}

{% macro build_log_relation() -%}
    {#- No database: ClickHouse has none above the schema, and PostgreSQL's is the target's. -#}
    {{ return(api.Relation.create(schema=target.schema, identifier='dbt_build_log')) }}
{%- endmacro %}

{#- Only commands that can change a relation, and only when dbt executes (not while it
    parses or compiles): `dbt parse`, `compile`, `test`, `docs generate` and `show`
    record nothing. -#}
{% macro build_log_records() -%}
    {{ return(execute and flags.WHICH in ('run', 'build', 'seed', 'snapshot', 'retry')) }}
{%- endmacro %}

{% macro build_log_create() -%}
    {%- if kafka_elt.build_log_records() -%}
        {{ adapter.dispatch('build_log_create', 'kafka_elt')(kafka_elt.build_log_relation()) }}
    {%- endif -%}
{%- endmacro %}

{% macro build_log_start() -%}
    {%- if kafka_elt.build_log_records() -%}
        {{ kafka_elt.build_log_insert('started', none) }}
    {%- endif -%}
{%- endmacro %}

{#- `results`: on-run-end's results of this invocation. Any error or failed test makes
    the build 'error': downstream nodes were skipped, so the marts may be partly built. -#}
{% macro build_log_end(results) -%}
    {%- if kafka_elt.build_log_records() -%}
        {%- set failed = [] -%}
        {%- for result in results -%}
            {%- if result.status in ('error', 'fail', 'runtime error') -%}
                {%- do failed.append(result) -%}
            {%- endif -%}
        {%- endfor -%}
        {{ kafka_elt.build_log_insert('error' if failed else 'success', modules.datetime.datetime.now(modules.pytz.utc)) }}
    {%- endif -%}
{%- endmacro %}

{#- Both rows of an invocation carry its start time (dbt's run_started_at, UTC), and the
    end row the time it ended, both from dbt's clock: the benchmark orders invocations
    by them. -#}
{% macro build_log_insert(status, finished_at) -%}
    {%- set build_id = env_var('DBT_BUILD_ID', '') or var('build_id', none) or invocation_id -%}
    {{ adapter.dispatch('build_log_insert', 'kafka_elt')(
        kafka_elt.build_log_relation(),
        {
            'build_id': build_id | string,
            'invocation_id': invocation_id,
            'target_name': target.name,
            'command': flags.WHICH,
            'status': status,
        },
        run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f'),
        finished_at.strftime('%Y-%m-%d %H:%M:%S.%f') if finished_at else none,
    ) }}
{%- endmacro %}


{#- PostgreSQL: hooks run outside dbt's transactions, but psycopg2 opens one implicitly,
    so each hook commits its own statements (else the start row would stay invisible to
    the benchmark until the build ends). Rows older than 30 days are dropped at start. -#}
{% macro postgres__build_log_create(relation) -%}
    create table if not exists {{ relation }} (
        build_id text not null,
        invocation_id text not null,
        target_name text not null,
        command text not null,
        status text not null,
        started_at timestamptz not null,
        finished_at timestamptz,
        recorded_at timestamptz not null default now(),
        primary key (invocation_id, status),
        constraint dbt_build_log_status_check check (status in ('started', 'success', 'error'))
    );
    create index if not exists dbt_build_log_started_at_idx on {{ relation }} (started_at);
    delete from {{ relation }} where started_at < now() - interval '30 days';
    commit;
{%- endmacro %}

{% macro postgres__build_log_literal(value) -%}
    {%- if value is none -%} null {%- else -%} '{{ value | replace("'", "''") }}' {%- endif -%}
{%- endmacro %}

{% macro postgres__build_log_insert(relation, texts, started_at, finished_at) -%}
    insert into {{ relation }} (build_id, invocation_id, target_name, command, status, started_at, finished_at)
    values (
        {%- for column in ('build_id', 'invocation_id', 'target_name', 'command', 'status') %}
        {{ kafka_elt.postgres__build_log_literal(texts[column]) }},
        {%- endfor %}
        timestamptz '{{ started_at }}+00',
        {% if finished_at %}timestamptz '{{ finished_at }}+00'{% else %}null{% endif %}
    );
    commit;
{%- endmacro %}


{#- ClickHouse: one statement per hook (its HTTP interface takes one at a time); old rows
    expire by TTL. On a replicated cluster (the profile's `cluster`, CLICKHOUSE_CLUSTER;
    README, "Distributed") the table is created ON CLUSTER with the Replicated engine, as
    the marts are (macros/cluster_engine.sql), so that every replica holds the log and the
    benchmark reads the same builds from any of them; the inserts then replicate by
    themselves. adapter.should_on_cluster() is dbt-clickhouse's own rule for it (a
    cluster, and no Replicated database engine). Without a cluster the SQL is unchanged. -#}
{% macro clickhouse__build_log_create(relation) -%}
    {%- set relation = relation.incorporate(can_on_cluster=adapter.should_on_cluster()) -%}
    {%- set on_cluster = on_cluster_clause(relation) | trim -%}
    create table if not exists {{ relation }}{{ ' ' ~ on_cluster if on_cluster else '' }} (
        build_id String,
        invocation_id String,
        target_name String,
        command LowCardinality(String),
        status LowCardinality(String),
        started_at DateTime64(6, 'UTC'),
        finished_at Nullable(DateTime64(6, 'UTC')),
        recorded_at DateTime64(6, 'UTC') default now64(6, 'UTC')
    )
    engine = {{ kafka_elt.cluster_engine('MergeTree') }}
    order by (started_at, invocation_id)
    ttl toDateTime(started_at) + interval 30 day
{%- endmacro %}

{% macro clickhouse__build_log_literal(value) -%}
    {%- if value is none -%} null {%- else -%} '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}' {%- endif -%}
{%- endmacro %}

{% macro clickhouse__build_log_insert(relation, texts, started_at, finished_at) -%}
    insert into {{ relation }} (build_id, invocation_id, target_name, command, status, started_at, finished_at)
    values (
        {%- for column in ('build_id', 'invocation_id', 'target_name', 'command', 'status') %}
        {{ kafka_elt.clickhouse__build_log_literal(texts[column]) }},
        {%- endfor %}
        toDateTime64('{{ started_at }}', 6, 'UTC'),
        {% if finished_at %}toDateTime64('{{ finished_at }}', 6, 'UTC'){% else %}null{% endif %}
    )
{%- endmacro %}
