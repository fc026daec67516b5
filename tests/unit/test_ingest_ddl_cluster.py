"""The raw layer and the build log move to a replicated ClickHouse cluster by one setting,
CLICKHOUSE_CLUSTER, as the marts do (test_dbt_clickhouse_cluster.py).

Checked here: with the variable unset or empty the rendered DDL is the SQL files with
their placeholders substituted, nothing more; with it every ClickHouse statement runs
ON CLUSTER, every table has the Replicated form of its engine (the Keeper arguments of
dbt/macros/cluster_engine.sql), ClickHouse's own parser (chdb, in process, nothing
executed) reads them so, and the column check still skips ALTERs with nothing to add;
a cluster name that is not an identifier fails before any statement is sent. dbt
compiles (no server) the build log's CREATE both ways.

Not run: any of it on a ClickHouse cluster with Keeper (none here; README, "Distributed").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import chdb
import pytest

from kafka_elt.ingest.ddl import added_columns, apply_clickhouse, on_cluster, render, split_statements
from kafka_elt.ingest.errors import DdlError
from kafka_elt.ingest.registry import TopicSpec, get_topic, load_registry
from kafka_elt.settings import CLICKHOUSE_CLUSTER_ENV, DECODED_AT_LOAD, KIND_COLUMNS, SQL_DIR
from tests.unit.test_ingest_ddl import FakeClickHouse

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "elt_cluster"
ON_CLUSTER = f" on cluster '{CLUSTER}'"
SPECS = load_registry()


def keeper_args() -> str:
    """The Keeper path and replica name dbt/macros/cluster_engine.sql gives the marts."""
    macro = (ROOT / "dbt" / "macros" / "cluster_engine.sql").read_text()
    match = re.search(r"set arguments = \[(.*?)\]", macro)
    assert match, "cluster_engine.sql no longer lists its Keeper arguments where this test reads them"
    return ", ".join(json.loads(f"[{match.group(1)}]"))


KEEPER_ARGS = keeper_args()
PLAIN_ENGINE = "engine = ReplacingMergeTree(ingested_at)"
REPLICATED_ENGINE = f"engine = ReplicatedReplacingMergeTree({KEEPER_ARGS}, ingested_at)"


def files_substituted(engine: str, spec: TopicSpec) -> list[tuple[str, str]]:
    """What render() gave before the cluster setting: the files, placeholders replaced."""
    params = {"schema": spec.raw_schema, "table": spec.table, "dead_letter_table": spec.dead_letter_table}
    rendered = []
    extra = ("raw_topic_index.sql",) if engine == "clickhouse" else ()
    for name in ("raw_schema.sql", "raw_topic_table.sql", f"raw_decoded_{spec.kind}.sql", *extra):
        sql = (SQL_DIR / engine / name).read_text()
        for key, value in params.items():
            sql = sql.replace("${" + key + "}", value)
        rendered.append((f"{engine}/{name}", sql))
    return rendered


def statements(scripts: list[tuple[str, str]]) -> list[str]:
    return [s for _, sql in scripts for s in split_statements(sql)]


@pytest.fixture
def clustered(monkeypatch):
    monkeypatch.setenv(CLICKHOUSE_CLUSTER_ENV, CLUSTER)


@pytest.mark.parametrize("setting", [None, ""], ids=["unset", "empty"])
@pytest.mark.parametrize("engine", ["postgres", "clickhouse"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.topic)
def test_without_a_cluster_the_sql_is_the_files_substituted(monkeypatch, setting, engine, spec):
    if setting is None:
        monkeypatch.delenv(CLICKHOUSE_CLUSTER_ENV, raising=False)
    else:
        monkeypatch.setenv(CLICKHOUSE_CLUSTER_ENV, setting)
    assert render(engine, spec) == files_substituted(engine, spec)


@pytest.mark.usefixtures("clustered")
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.topic)
def test_postgres_ignores_the_cluster(spec):
    assert render("postgres", spec) == files_substituted("postgres", spec)


@pytest.mark.usefixtures("clustered")
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.topic)
def test_on_a_cluster_every_statement_runs_on_cluster_with_a_replicated_engine(spec):
    scripts = render("clickhouse", spec)
    assert [name for name, _ in scripts] == [name for name, _ in files_substituted("clickhouse", spec)]
    clustered, plain = statements(scripts), statements(files_substituted("clickhouse", spec))
    assert len(clustered) == len(plain) == 3 + 1 + len(KIND_COLUMNS[spec.kind]) + 2
    schema, dead, table = spec.raw_schema, spec.dead_letter_table, spec.table
    assert clustered[:3] == [
        f"create database if not exists {schema}{ON_CLUSTER}",
        *(
            plain[i]
            .replace(f"{schema}.{name} (", f"{schema}.{name}{ON_CLUSTER} (")
            .replace(PLAIN_ENGINE, REPLICATED_ENGINE)
            for i, name in ((1, dead), (2, table))
        ),
    ]
    for statement in clustered[1:3]:
        assert statement.count("engine = ") == 1 and REPLICATED_ENGINE in statement, statement
    # The ALTERs: ON CLUSTER after the table, the rest as in the file.
    assert clustered[3:] == [
        s.replace(f"alter table {schema}.{table} ", f"alter table {schema}.{table}{ON_CLUSTER} ")
        for s in plain[3:]
    ]
    assert all(ON_CLUSTER in s for s in clustered[3:])
    # Still one column per ALTER, recognised by the column check; then the skip index.
    assert [added_columns(s) for s in clustered[3:-2]] == [
        [DECODED_AT_LOAD],
        *([n] for n, _, _ in KIND_COLUMNS[spec.kind]),
    ]


def _clickhouse_formats(statement: str) -> str:
    """The statement as ClickHouse's parser reads it back (formatQuery parses only)."""
    literal = "'" + statement.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return chdb.query(f"select formatQuerySingleLine({literal})", "TabSeparatedRaw").bytes().decode().strip()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.topic)
def test_clickhouse_parses_the_ddl_on_one_server(monkeypatch, spec):
    """sqlfluff's ClickHouse dialect cannot read raw_topic_index.sql (no skip-index
    clause), so ClickHouse's own parser reads every statement instead."""
    monkeypatch.delenv(CLICKHOUSE_CLUSTER_ENV, raising=False)
    formatted = [_clickhouse_formats(statement) for statement in statements(render("clickhouse", spec))]
    assert formatted[-2:] == [
        f"ALTER TABLE {spec.raw_schema}.{spec.table} (ADD INDEX IF NOT EXISTS ingested_at_minmax ingested_at "
        "TYPE minmax GRANULARITY 1)",
        f"ALTER TABLE {spec.raw_schema}.{spec.table} (MATERIALIZE INDEX ingested_at_minmax)",
    ]


@pytest.mark.usefixtures("clustered")
def test_clickhouse_parses_the_cluster_ddl():
    for spec in SPECS:
        for statement in statements(render("clickhouse", spec)):
            formatted = _clickhouse_formats(statement)
            assert f" ON CLUSTER {CLUSTER} " in f"{formatted} ", formatted
            if formatted.startswith("CREATE TABLE"):
                assert f"ENGINE = ReplicatedReplacingMergeTree({KEEPER_ARGS}, ingested_at) " in formatted


@pytest.mark.parametrize(
    "name", ["elt-cluster", "1st", "elt cluster", " elt", "elt'; drop database raw; --", "{cluster}", "ëlt"]
)
def test_a_cluster_name_that_is_no_identifier_fails_before_any_statement(monkeypatch, name):
    monkeypatch.setenv(CLICKHOUSE_CLUSTER_ENV, name)
    with pytest.raises(DdlError, match=rf"^{CLICKHOUSE_CLUSTER_ENV}=.* is not a ClickHouse cluster name"):
        render("clickhouse", get_topic("market_candle"))
    client = FakeClickHouse(columns=set())
    with pytest.raises(DdlError, match="letters, digits and underscores only"):
        apply_clickhouse(client, get_topic("market_candle"))
    assert client.commands == [] and client.queries == 0


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "create table if not exists raw.t (a Int8) engine = MergeTree order by a",
            f"create table if not exists raw.t on cluster 'c' (a Int8) engine = ReplicatedMergeTree({KEEPER_ARGS}) "
            "order by a",
        ),
        (
            "CREATE TABLE IF NOT EXISTS raw.t (a Int8) ENGINE = ReplacingMergeTree() ORDER BY a",
            f"CREATE TABLE IF NOT EXISTS raw.t on cluster 'c' (a Int8) ENGINE = ReplicatedReplacingMergeTree({KEEPER_ARGS}) "
            "ORDER BY a",
        ),
        (  # already replicated: the path it names stays
            "create table if not exists raw.t (a Int8) engine = ReplicatedMergeTree('/p', 'r') order by a",
            "create table if not exists raw.t on cluster 'c' (a Int8) engine = ReplicatedMergeTree('/p', 'r') order by a",
        ),
        ("alter table raw.t add column if not exists a Int8", "alter table raw.t on cluster 'c' add column if not exists a Int8"),
        ("create database if not exists raw", "create database if not exists raw on cluster 'c'"),
    ],
)  # fmt: skip
def test_on_cluster_places_the_clause_and_replicates_the_engine(statement, expected):
    assert on_cluster(statement, "c") == expected


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        ("drop table if exists raw.t", "no place for ON CLUSTER"),
        ("create table raw.t (a Int8) engine = MergeTree order by a", "no place for ON CLUSTER"),
        ("create table if not exists raw.t (a Int8) engine = Memory", "no MergeTree-family engine"),
    ],
)
def test_on_cluster_refuses_what_it_cannot_run_on_every_replica(statement, error):
    with pytest.raises(DdlError, match=error):
        on_cluster(statement, "c")


@pytest.mark.usefixtures("clustered")
def test_apply_clickhouse_sends_the_cluster_ddl_and_skips_what_exists():
    spec = get_topic("market_candle")
    expected = statements(render("clickhouse", spec))
    fresh = FakeClickHouse(columns=set())
    apply_clickhouse(fresh, spec)
    assert fresh.commands == expected and fresh.queries == 1
    assert all(ON_CLUSTER in c for c in fresh.commands)
    every_column = {DECODED_AT_LOAD, *(name for name, _, _ in KIND_COLUMNS["market_candle"])}
    upgraded = FakeClickHouse(columns=every_column)
    apply_clickhouse(upgraded, spec)
    assert upgraded.commands == expected[:3] + expected[-2:]
    # A complete raw layer sends nothing: no ON CLUSTER statement to wait on a replica that is down.
    complete = FakeClickHouse(columns=every_column, complete=True)
    apply_clickhouse(complete, spec)
    assert complete.commands == []
    half = FakeClickHouse(columns={DECODED_AT_LOAD, "code"})
    apply_clickhouse(half, spec)
    assert [added_columns(c) for c in half.commands[3:-2]] == [
        [name] for name, _, _ in KIND_COLUMNS["market_candle"] if name != "code"
    ]


class _RefusingClickHouse(FakeClickHouse):
    def command(self, statement):
        raise RuntimeError("Code: 139. DB::Exception: There is no cluster elt_cluster")


@pytest.mark.usefixtures("clustered")
def test_a_failed_cluster_statement_says_what_the_cluster_needs():
    with pytest.raises(DdlError) as failed:
        apply_clickhouse(_RefusingClickHouse(columns=set()), get_topic("market_candle"))
    message = str(failed.value)
    assert "clickhouse/raw_schema.sql" in message and "There is no cluster elt_cluster" in message
    assert f"on cluster {CLUSTER!r}" in message and "<remote_servers>" in message and "Keeper" in message


# The build log (dbt/macros/build_log.sql), compiled by dbt as its on-run-start hook
# would render it; `execute` guards what needs the adapter (none at parse time).
BUILD_LOG_INLINE = """
{%- if execute -%}
{{ tojson({'create': kafka_elt.clickhouse__build_log_create(kafka_elt.build_log_relation())}) }}
{%- endif -%}
"""


def _compile_build_log(tmp_path: Path, cluster: str) -> str:
    dbt = ROOT / ".venv-dbt" / "bin" / "dbt"
    assert dbt.exists(), f"{dbt} is missing: create the dbt venv (pip install -r requirements-dbt.txt)"
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        **{f"DBT_POSTGRES_{k}": "x" for k in ("HOST", "USER", "PASSWORD", "DBNAME")},
        # Nothing listens there: a query would fail the test rather than reach a server.
        **{"DBT_CLICKHOUSE_HOST": "127.0.0.1", "DBT_CLICKHOUSE_PORT": "9"},
        **{"DBT_CLICKHOUSE_USER": "x", "DBT_CLICKHOUSE_PASSWORD": "x", CLICKHOUSE_CLUSTER_ENV: cluster},
    }
    target = tmp_path / (cluster or "single")
    project = str(ROOT / "dbt")
    proc = subprocess.run(
        [str(dbt), "compile", "--project-dir", project, "--profiles-dir", project, "--target", "clickhouse",
         "--target-path", str(target), "--log-path", str(target / "logs"), "--no-partial-parse",
         "--no-populate-cache", "--log-format", "json", "--inline", BUILD_LOG_INLINE],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"dbt compile failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    compiled = [e["data"]["compiled"] for e in events if e["info"]["name"] == "CompiledNode"]
    assert len(compiled) == 1, proc.stdout[-3000:]
    return json.loads(compiled[0])["create"]


def test_build_log_on_one_server_is_unchanged(tmp_path):
    create = _compile_build_log(tmp_path, "")
    assert create.startswith("create table if not exists `analytics`.`dbt_build_log` (\n"), create
    assert "\n    engine = MergeTree\n" in create
    assert "cluster" not in create.lower() and "Replicated" not in create


def test_build_log_on_a_cluster_is_created_on_cluster_and_replicated(tmp_path):
    create = _compile_build_log(tmp_path, CLUSTER)
    assert create.startswith(
        f'create table if not exists `analytics`.`dbt_build_log` ON CLUSTER "{CLUSTER}" (\n'
    )
    assert f"\n    engine = ReplicatedMergeTree({KEEPER_ARGS})\n" in create
    assert _clickhouse_formats(create).count(f"ON CLUSTER {CLUSTER}") == 1
