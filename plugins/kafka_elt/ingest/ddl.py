"""Create the raw layer (schema, dead-letter table, one table per topic) in both engines.

Idempotent (``if not exists`` everywhere), so every DAG run applies it before it
drains: a new topic in the registry gets its tables on its first run, with no separate
setup step to forget.
"""

from __future__ import annotations

import logging
from pathlib import Path
from string import Template

from kafka_elt.ingest.errors import DdlError
from kafka_elt.ingest.registry import TopicSpec
from kafka_elt.settings import SQL_DIR

log = logging.getLogger(__name__)

_FILES = ("raw_schema.sql", "raw_topic_table.sql")

# Several ingestion DAGs start at once on the same schedule; concurrent `create ... if
# not exists` of one object can still collide in PostgreSQL's catalog (unique violation
# on pg_type or pg_namespace). One transaction-scoped advisory lock serialises them.
_PG_DDL_LOCK = "select pg_advisory_xact_lock(hashtext('kafka_elt.ingest.ddl'))"


class SqlTemplate(Template):
    """``${name}`` placeholders only: a bare ``$`` stays as it is, so dollar-quoted
    PostgreSQL bodies (``do $$ ... $$``) need no escaping in the SQL files."""

    pattern = r"""
    \$(?:
        (?P<escaped>(?!))                       # no escape sequence
      | (?P<named>(?!))                         # no bare $name
      | \{(?P<braced>[_a-z][_a-z0-9]*)\}
      | (?P<invalid>(?!))
    )
    """  # type: ignore[assignment]  # Template compiles a str pattern at class creation


def render(engine: str, spec: TopicSpec) -> list[tuple[str, str]]:
    """The DDL of one engine for one topic: (file name, SQL) in the order to apply."""
    params = {"schema": spec.raw_schema, "table": spec.table, "dead_letter_table": spec.dead_letter_table}
    rendered = []
    for name in _FILES:
        path: Path = SQL_DIR / engine / name
        rendered.append((f"{engine}/{name}", SqlTemplate(path.read_text()).substitute(params)))
    return rendered


def split_statements(sql: str) -> list[str]:
    """Split a script on ``;`` outside quotes, dropping ``--`` comments.

    ClickHouse's HTTP interface takes one statement per request. (PostgreSQL gets the
    script whole: its DO block holds semicolons inside a dollar-quoted body.)
    """
    statements: list[str] = []
    current: list[str] = []
    in_quote = False
    i = 0
    while i < len(sql):
        char = sql[i]
        if in_quote:
            current.append(char)
            if char == "'":
                in_quote = False
        elif char == "'":
            in_quote = True
            current.append(char)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        elif char == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def apply_postgres(conn, spec: TopicSpec) -> None:
    """Apply the PostgreSQL DDL in one transaction (psycopg 3 connection)."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(_PG_DDL_LOCK)
            for _name, sql in render("postgres", spec):
                cur.execute(sql)
    except Exception as exc:
        raise DdlError(
            f"PostgreSQL: creating the raw tables {spec.qualified_table} and "
            f"{spec.qualified_dead_letter_table} for topic {spec.topic!r} failed: {exc}. "
            f"The loader role must own schema {spec.raw_schema!r} (the stack's provisioning does this); "
            "fix it and re-run the task."
        ) from exc


def apply_clickhouse(client, spec: TopicSpec) -> None:
    """Apply the ClickHouse DDL statement by statement (clickhouse_connect client)."""
    for name, script in render("clickhouse", spec):
        for statement in split_statements(script):
            try:
                client.command(statement)
            except Exception as exc:
                raise DdlError(
                    f"ClickHouse: {name} for topic {spec.topic!r} (table {spec.qualified_table}) "
                    f"failed: {exc}. The connection's user needs CREATE on database {spec.raw_schema!r}; "
                    "fix it and re-run the task."
                ) from exc


def apply_ddl(spec: TopicSpec, connections) -> None:
    """Create what is missing of the raw layer for one topic, in both engines."""
    pg = connections.postgres()
    try:
        apply_postgres(pg, spec)
    finally:
        pg.close()
    ch = connections.clickhouse()
    try:
        apply_clickhouse(ch, spec)
    finally:
        ch.close()
    log.info(
        "raw tables ready for topic %r: %s and %s in PostgreSQL and ClickHouse",
        spec.topic,
        spec.qualified_table,
        spec.qualified_dead_letter_table,
    )
