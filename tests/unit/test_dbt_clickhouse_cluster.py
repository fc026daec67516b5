"""The ClickHouse marts move to a replicated cluster by one setting, CLICKHOUSE_CLUSTER.

dbt compiles (no database: `--no-populate-cache`, and an inline node that runs no query)
the CREATE TABLE head dbt-clickhouse writes for a model, `create table ... ON CLUSTER ...
engine = ...`, from the same macros its materializations call (on_cluster_clause, and
engine_clause, which dbt/macros/cluster_engine.sql overrides), plus the engine of every
real model; once with the variable empty and once set.

What this does not run: a CREATE TABLE on a ClickHouse cluster with Keeper (there is none
here; README, "Distributed"), dbt's materializations end to end (they need a server), and
the raw tables' DDL (kafka_elt.ingest.ddl; tests/unit/test_ingest_ddl_cluster.py renders it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt"
DBT = ROOT / ".venv-dbt" / "bin" / "dbt"
CLUSTER = "elt_cluster"
KEEPER_ARGS = "'/clickhouse/tables/{uuid}/{shard}', '{replica}'"

# One node's config, as a model states it; then what dbt-clickhouse's DDL would say for
# it, and the engine each real model would be created with. `execute` guards what needs
# the adapter at run time (at parse time it has no connection).
INLINE = """
{{ config(engine='ReplacingMergeTree(record_version)', order_by=['code', 'timestamp']) }}
{%- if execute -%}
{%- set models = {} -%}
{%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.get('engine') -%}
{%- do models.update({node.name: [node.config.engine, kafka_elt.cluster_engine(node.config.engine)]}) -%}
{%- endfor -%}
{{ tojson({
    'ddl': 'create table ' ~ this ~ ' ' ~ on_cluster_clause(this) ~ ' ' ~ engine_clause()
           ~ ' ' ~ order_cols(label='order by'),
    'cluster_mode': target.cluster_mode,
    'models': models,
}) }}
{%- endif -%}
"""


def _compile(tmp_path: Path, cluster: str) -> dict:
    assert DBT.exists(), f"{DBT} is missing: create the dbt venv (pip install -r requirements-dbt.txt)"
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        **{f"DBT_POSTGRES_{k}": "x" for k in ("HOST", "USER", "PASSWORD", "DBNAME")},
        # Nothing listens there: a query would fail the test rather than reach a server.
        "DBT_CLICKHOUSE_HOST": "127.0.0.1",
        "DBT_CLICKHOUSE_PORT": "9",
        "DBT_CLICKHOUSE_USER": "x",
        "DBT_CLICKHOUSE_PASSWORD": "x",
        "CLICKHOUSE_CLUSTER": cluster,
    }
    target = tmp_path / (cluster or "single")
    proc = subprocess.run(
        [
            str(DBT),
            "compile",
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target",
            "clickhouse",
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
            "--no-partial-parse",
            "--no-populate-cache",
            "--log-format",
            "json",
            "--inline",
            INLINE,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"dbt compile failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    compiled = [e["data"]["compiled"] for e in events if e["info"]["name"] == "CompiledNode"]
    assert len(compiled) == 1, proc.stdout[-3000:]
    result = json.loads(compiled[0])
    result["ddl"] = " ".join(result["ddl"].split())
    return result


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    return _compile(tmp_path_factory.mktemp("dbt-single"), "")


@pytest.fixture(scope="module")
def clustered(tmp_path_factory) -> dict:
    return _compile(tmp_path_factory.mktemp("dbt-cluster"), CLUSTER)


def _replicated(engine: str) -> str:
    name, _, rest = engine.partition("(")
    args = rest[:-1].strip()
    return f"Replicated{name.strip()}({KEEPER_ARGS}{', ' + args if args else ''})"


def test_one_server_ddl_is_unchanged(single):
    assert single["ddl"] == (
        "create table `analytics`.`inline_query` engine = ReplacingMergeTree(record_version) "
        "order by (code,timestamp)"
    )
    assert single["cluster_mode"] is False
    assert single["models"], "no model states an engine: the project did not compile as expected"
    for name, (configured, rendered) in single["models"].items():
        assert rendered == configured, name


def test_cluster_ddl_runs_on_cluster_with_a_replicated_engine(clustered):
    assert clustered["ddl"] == (
        f'create table `analytics`.`inline_query` ON CLUSTER "{CLUSTER}" '
        f"engine = ReplicatedReplacingMergeTree({KEEPER_ARGS}, record_version) "
        "order by (code,timestamp)"
    )
    # Inserts wait for a quorum of replicas (dbt-clickhouse's cluster_mode).
    assert clustered["cluster_mode"] is True


def test_every_model_table_is_replicated_on_a_cluster(clustered):
    models = clustered["models"]
    assert {"market_candle", "user_footprint", "latest_price", "mart_checksums"} <= set(models)
    for name, (configured, rendered) in models.items():
        assert re.fullmatch(r"[A-Za-z]*MergeTree(\(.*\))?", configured), (name, configured)
        assert rendered == _replicated(configured), name
    assert models["market_candle"][1] == f"ReplicatedReplacingMergeTree({KEEPER_ARGS}, record_version)"
    assert models["latest_price"][1] == f"ReplicatedMergeTree({KEEPER_ARGS})"
