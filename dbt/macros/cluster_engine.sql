{#-
    ClickHouse on a replicated cluster (README, "Distributed"). The profile's `cluster`
    (environment variable CLICKHOUSE_CLUSTER, empty on one server) makes dbt-clickhouse
    run its DDL `ON CLUSTER`; the macros below make the tables it creates replicated too.

    dbt-clickhouse writes a model's `engine` config into CREATE TABLE through one macro,
    engine_clause() (table, incremental and seed materializations, and the check for a
    replicated table before EXCHANGE TABLES). A macro of the same name in the root
    project takes precedence over the adapter's, so the models keep naming the engine
    they mean on one server (`ReplacingMergeTree(record_version)`, `MergeTree()`) and one
    setting moves all of them. A model that names a Replicated engine itself keeps it.
-#}
{% macro engine_clause() -%}
    engine = {{ kafka_elt.cluster_engine(config.get('engine', default='MergeTree()')) }}
{%- endmacro %}


{#- `engine` as the target needs it: on a cluster, the Replicated form of a *MergeTree
    engine, its Keeper path and replica name first and its own arguments after them:
        ReplacingMergeTree(record_version)
     -> ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}', record_version)
    {shard} and {replica} are each server's <macros>; {uuid} is the table's UUID, which
    ON CLUSTER gives every replica alike. A path per UUID, not per name, because dbt
    builds a table under a temporary name and swaps it in (EXCHANGE TABLES): a path
    made from the name would be taken by the table the previous build swapped in.
    Unchanged without a cluster, for engines that have no Replicated form (Memory, Log)
    and for engines already Replicated or Shared. -#}
{% macro cluster_engine(engine, cluster=none) -%}
    {%- set cluster = target.get('cluster') if cluster is none else cluster -%}
    {%- set engine = engine | trim -%}
    {%- set name = engine.split('(')[0] | trim -%}
    {%- set args = engine[engine.index('(') + 1:-1] | trim if engine.endswith(')') else '' -%}
    {%- if not cluster or not name.endswith('MergeTree') or name.startswith(('Replicated', 'Shared')) -%}
        {{- return(engine) -}}
    {%- endif -%}
    {%- set arguments = ["'/clickhouse/tables/{uuid}/{shard}'", "'{replica}'"] + ([args] if args else []) -%}
    {{- return('Replicated' ~ name ~ '(' ~ arguments | join(', ') ~ ')') -}}
{%- endmacro %}
