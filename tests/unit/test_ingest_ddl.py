"""Rendering and splitting the raw-layer DDL templates."""

from __future__ import annotations

import pytest

from kafka_elt.ingest.ddl import (
    Present,
    SqlTemplate,
    added_columns,
    apply_clickhouse,
    apply_postgres,
    needed,
    render,
    split_statements,
)
from kafka_elt.ingest.registry import get_topic
from kafka_elt.settings import DECODED_AT_LOAD, KIND_COLUMNS


@pytest.mark.parametrize("engine", ["postgres", "clickhouse"])
def test_render_substitutes_every_placeholder(engine):
    spec = get_topic("web-logs-topic").with_overrides(raw_schema="raw_it", dead_letter_table="dead_it")
    scripts = render(engine, spec)
    # Then the columns the topic's kind decodes at load time (added to existing tables too).
    assert [name for name, _ in scripts] == [
        f"{engine}/raw_schema.sql",
        f"{engine}/raw_topic_table.sql",
        f"{engine}/raw_decoded_footprint.sql",
        *(["clickhouse/raw_topic_index.sql"] if engine == "clickhouse" else []),
    ]
    text = "\n".join(sql for _, sql in scripts)
    assert "${" not in text
    assert "raw_it.dead_it" in text and "raw_it.web_logs" in text
    # Column names the dbt project reads.
    for column in ("kafka_topic", "kafka_partition", "kafka_offset", "kafka_key", "kafka_value", "kafka_timestamp",
                   "kafka_headers", "ingested_at", "dag_run_id", "error_reason", DECODED_AT_LOAD,
                   "link", "method", "footprint_time", "footprint_at"):  # fmt: skip
        assert column in text


def test_postgres_dollar_quoting_survives():
    _, schema_sql = render("postgres", get_topic("market_candle"))[0]
    assert "do $$" in schema_sql and "$$;" in schema_sql
    assert SqlTemplate("a $$ b ${x} $1 $y").substitute(x="X") == "a $$ b X $1 $y"
    with pytest.raises(KeyError):
        SqlTemplate("${missing}").substitute()


def test_split_statements_ignores_comments_and_quoted_semicolons():
    script = """
    -- a comment; with a semicolon
    create table t (a String default 'x;y', b String); -- trailing; comment
    select 'it''s; fine';
    -- only a comment
    """
    assert split_statements(script) == [
        "create table t (a String default 'x;y', b String)",
        "select 'it''s; fine'",
    ]


def test_clickhouse_scripts_split_into_ddl_statements():
    statements = [
        s for _, sql in render("clickhouse", get_topic("market_candle")) for s in split_statements(sql)
    ]
    assert [s.split("(")[0].split()[:5] for s in statements[:3]] == [
        ["create", "database", "if", "not", "exists"],
        ["create", "table", "if", "not", "exists"],
        ["create", "table", "if", "not", "exists"],
    ]
    assert all("ReplacingMergeTree" in s for s in statements[1:3])
    # Then one ALTER per decoded column (what sqlfluff's ClickHouse dialect parses).
    assert [added_columns(s) for s in statements[3:-2]] == [
        [DECODED_AT_LOAD],
        *([name] for name, _, _ in KIND_COLUMNS["market_candle"]),
    ]
    assert all(
        s.startswith("alter table raw.market_candle add column if not exists ") for s in statements[3:-2]
    )
    # Then the skip index on ingested_at, added and built for the parts already written.
    assert statements[-2:] == [
        "alter table raw.market_candle add index if not exists ingested_at_minmax ingested_at type minmax granularity 1",
        "alter table raw.market_candle materialize index ingested_at_minmax",
    ]


def test_added_columns_only_for_add_column_statements():
    assert added_columns(
        "alter table raw.t\nadd column if not exists a text,\nadd column if not exists b Nullable(DateTime64(6, 'UTC'))"
    ) == ["a", "b"]
    assert added_columns("ALTER TABLE raw.t ADD COLUMN IF NOT EXISTS a Bool") == ["a"]
    assert added_columns("create table if not exists raw.t (a text)") == []
    assert added_columns("alter table raw.t drop column a") == []
    assert added_columns("alter table raw.t add column a text") == []  # without IF NOT EXISTS: never skipped


def test_an_add_column_statement_is_needed_until_every_column_exists():
    asked = []

    def existing():
        asked.append(1)
        return Present(columns=frozenset({"a", "b"}))

    assert needed("select 1", existing) and not asked
    assert not needed(
        "alter table raw.t add column if not exists a text, add column if not exists b text", existing
    )
    assert needed(
        "alter table raw.t add column if not exists a text, add column if not exists c text", existing
    )


@pytest.mark.parametrize("on", ["", " on cluster 'c'"])
def test_a_create_or_index_statement_is_needed_until_its_object_exists(on):
    present = Present(
        databases=frozenset({"raw"}), tables=frozenset({"raw.t"}), indexes=frozenset({"ingested_at_minmax"})
    )
    none = Present()
    for statement in (
        f"create database if not exists raw{on}",
        f"create table if not exists raw.t{on} (a String) engine = MergeTree order by a",
        f"alter table raw.t{on} add index if not exists ingested_at_minmax ingested_at type minmax granularity 1",
        f"alter table raw.t{on} materialize index ingested_at_minmax",
    ):
        assert not needed(statement, lambda: present), statement
        assert needed(statement, lambda: none), statement
    assert needed(
        f"create table if not exists raw.other{on} (a String) engine = MergeTree order by a", lambda: present
    )
    assert needed(f"alter table raw.t{on} materialize index other_index", lambda: present)


class _Result:
    def __init__(self, rows):
        self.result_rows = rows


class FakeClickHouse:
    """A server holding ``columns`` of raw.market_candle, and the database, both tables
    and the skip index when ``complete`` (a table created before the index when not)."""

    def __init__(self, columns: set[str], complete: bool = False) -> None:
        self.columns, self.complete, self.commands, self.queries = columns, complete, [], 0

    def query(self, sql, parameters):
        self.queries += 1
        assert parameters == {"database": "raw", "table": "market_candle", "dead_letter_table": "dead_letter"}
        rows = [("column", c) for c in self.columns]
        if self.complete:
            rows += [("database", "raw"), ("table", "raw.market_candle"), ("table", "raw.dead_letter")]
            rows += [("index", "ingested_at_minmax")]
        return _Result(rows)

    def command(self, statement):
        self.commands.append(statement)


def test_clickhouse_adds_only_the_missing_columns_and_asks_once():
    spec = get_topic("market_candle")
    fresh = FakeClickHouse(columns=set())
    apply_clickhouse(fresh, spec)
    assert len(fresh.commands) == 3 + 1 + len(KIND_COLUMNS["market_candle"]) + 2 and fresh.queries == 1
    every_column = {DECODED_AT_LOAD, *(name for name, _, _ in KIND_COLUMNS["market_candle"])}
    # Tables from before the decoded columns and the index: the CREATEs are sent (this
    # fake says the tables are missing), then the index, built for the rows already there.
    upgraded = FakeClickHouse(columns=every_column)
    apply_clickhouse(upgraded, spec)
    assert [c.split()[:2] for c in upgraded.commands[:3]] == [
        ["create", "database"],
        ["create", "table"],
        ["create", "table"],
    ]
    assert [c.split()[3:5] for c in upgraded.commands[3:]] == [["add", "index"], ["materialize", "index"]]
    half = FakeClickHouse(columns={DECODED_AT_LOAD, "code"})
    apply_clickhouse(half, spec)
    assert [added_columns(c) for c in half.commands[3:-2]] == [
        [name] for name, _, _ in KIND_COLUMNS["market_candle"] if name != "code"
    ]
    # Everything there: nothing is sent, after one question.
    complete = FakeClickHouse(columns=every_column, complete=True)
    apply_clickhouse(complete, spec)
    assert complete.commands == [] and complete.queries == 1


class FakePostgresCursor:
    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def execute(self, sql, params=None):
        self.conn.executed.append((sql, params))

    def fetchall(self):
        return [(c,) for c in self.conn.columns]


class FakePostgres:
    def __init__(self, columns: set[str]) -> None:
        self.columns, self.executed = columns, []

    def transaction(self):
        return FakePostgresCursor(self)

    def cursor(self):
        return FakePostgresCursor(self)


def test_postgres_skips_the_alter_once_every_column_exists():
    """ALTER TABLE takes the table's exclusive lock even when it has nothing to do."""
    spec = get_topic("web-logs-topic")
    everything = {DECODED_AT_LOAD, *(name for name, _, _ in KIND_COLUMNS["footprint"])}
    for columns, alters in ((set(), 1), ({DECODED_AT_LOAD}, 1), (everything, 0)):
        conn = FakePostgres(columns)
        apply_postgres(conn, spec)
        statements = [sql for sql, _ in conn.executed]
        assert sum(s.startswith("alter table raw.web_logs") for s in statements) == alters, columns
        assert any("attrelid = to_regclass(%s)" in s for s in statements)
        assert ("raw.web_logs",) in [params for _, params in conn.executed]
