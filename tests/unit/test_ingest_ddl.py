"""Rendering and splitting the raw-layer DDL templates."""

from __future__ import annotations

import pytest

from kafka_elt.ingest.ddl import SqlTemplate, render, split_statements
from kafka_elt.ingest.registry import get_topic


@pytest.mark.parametrize("engine", ["postgres", "clickhouse"])
def test_render_substitutes_every_placeholder(engine):
    spec = get_topic("web-logs-topic").with_overrides(raw_schema="raw_it", dead_letter_table="dead_it")
    scripts = render(engine, spec)
    assert [name for name, _ in scripts] == [f"{engine}/raw_schema.sql", f"{engine}/raw_topic_table.sql"]
    text = "\n".join(sql for _, sql in scripts)
    assert "${" not in text
    assert "raw_it.dead_it" in text and "raw_it.web_logs" in text
    # Column names the dbt project reads.
    for column in ("kafka_topic", "kafka_partition", "kafka_offset", "kafka_key", "kafka_value", "kafka_timestamp",
                   "kafka_headers", "ingested_at", "dag_run_id", "error_reason"):  # fmt: skip
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
    assert [s.split("(")[0].split()[:5] for s in statements] == [
        ["create", "database", "if", "not", "exists"],
        ["create", "table", "if", "not", "exists"],
        ["create", "table", "if", "not", "exists"],
    ]
    assert all("ReplacingMergeTree" in s for s in statements[1:])
