"""Create the raw layer (schema, dead-letter table, one table per topic) in both engines.

Idempotent (``if not exists`` everywhere), so every DAG run applies it before it
drains: a new topic in the registry gets its tables on its first run, with no separate
setup step to forget. Columns added since a table was first created (the decoded
columns of ``raw_decoded_<kind>.sql``) come as ``alter table ... add column if not
exists``; such a statement is skipped when its table already has every column it adds,
because both engines do work for it even then (PostgreSQL takes the table's exclusive
lock, which would queue behind a long dbt read and hold up the loaders behind it;
ClickHouse rewrites the table's metadata). ClickHouse's skip index
(``raw_topic_index.sql``: add, then materialize for the parts already written) is sent
only while the table lacks it, and on ClickHouse a CREATE whose database or table
exists is not sent either: a run that finds the raw layer complete sends no DDL, which
on a cluster means no ``on cluster`` statement waiting for a replica that is down.

On a replicated ClickHouse cluster (environment variable ``CLICKHOUSE_CLUSTER``, read at
each render; README, "Distributed") every ClickHouse statement runs ``on cluster`` and
each table gets the Replicated form of its engine, as dbt/macros/cluster_engine.sql does
for the marts: the SQL files keep the engine they mean on one server, and one setting
moves the raw layer and the marts together. Without it the SQL is exactly the files'.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

from kafka_elt.ingest.errors import DdlError
from kafka_elt.ingest.registry import TopicSpec
from kafka_elt.settings import CLICKHOUSE_CLUSTER_ENV, SQL_DIR

log = logging.getLogger(__name__)

_FILES = ("raw_schema.sql", "raw_topic_table.sql")
# Per message kind: the columns its validator decodes (settings.KIND_COLUMNS).
_KIND_FILE = "raw_decoded_{kind}.sql"
# Last, after every column: what one engine adds to its topic tables.
_ENGINE_FILES = {"postgres": (), "clickhouse": ("raw_topic_index.sql",)}

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
    """The DDL of one engine for one topic: (file name, SQL) in the order to apply.

    On a ClickHouse cluster (``clickhouse_cluster()``) each file's statements come
    through ``on_cluster()``, one per line, without the files' comments."""
    params = {"schema": spec.raw_schema, "table": spec.table, "dead_letter_table": spec.dead_letter_table}
    cluster = clickhouse_cluster() if engine == "clickhouse" else ""
    rendered = []
    for name in (*_FILES, _KIND_FILE.format(kind=spec.kind), *_ENGINE_FILES[engine]):
        path: Path = SQL_DIR / engine / name
        sql = SqlTemplate(path.read_text()).substitute(params)
        if cluster:
            sql = "".join(f"{on_cluster(statement, cluster)};\n" for statement in split_statements(sql))
        rendered.append((f"{engine}/{name}", sql))
    return rendered


# A name as <remote_servers> holds it and ON CLUSTER takes it, quoted: nothing to escape.
_CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def clickhouse_cluster() -> str:
    """The replicated cluster the ClickHouse DDL runs on: ``CLICKHOUSE_CLUSTER`` as the
    environment holds it now, "" (one server) when unset or empty."""
    cluster = os.environ.get(CLICKHOUSE_CLUSTER_ENV, "")
    if cluster and not _CLUSTER_NAME.fullmatch(cluster):
        raise DdlError(
            f"{CLICKHOUSE_CLUSTER_ENV}={cluster!r} is not a ClickHouse cluster name: letters, digits and "
            "underscores only, not starting with a digit. Set it to the cluster's name in the servers' "
            "<remote_servers> (empty for one server) in the environment of the Airflow tasks, then re-run."
        )
    return cluster


# Where ON CLUSTER goes: after the name a statement creates or alters (``${schema}`` or
# ``${schema}.${table}`` rendered).
_CLUSTER_CLAUSE_AT = re.compile(
    r"\s*(?:create\s+database\s+if\s+not\s+exists|(?P<create_table>create\s+table\s+if\s+not\s+exists)"
    r"|alter\s+table)\s+[\w.]+",
    re.I,
)
_ENGINE = re.compile(r"\b(?i:engine)\s*=\s*(?P<name>\w*MergeTree)\b(?:\((?P<args>[^()]*)\))?")
# The Keeper path and replica name dbt/macros/cluster_engine.sql gives the marts: per
# table UUID (the same on every replica, since the CREATE runs ON CLUSTER), then each
# server's <macros>. They are also ClickHouse's default_replica_path/_name, written out
# so that both layers keep one scheme whatever a server's defaults say.
_KEEPER_ARGS = "'/clickhouse/tables/{uuid}/{shard}', '{replica}'"


def on_cluster(statement: str, cluster: str) -> str:
    """One ClickHouse DDL statement of include/sql as it runs on a replicated cluster:
    ``on cluster '<cluster>'`` after the name it creates or alters, and a CREATE TABLE's
    engine in its Replicated form (``replicated_engine()``). Any other statement is an
    error rather than left as it is: run on one server only, it would leave the other
    replicas without what it creates."""
    head = _CLUSTER_CLAUSE_AT.match(statement)
    if head is None:
        raise DdlError(
            f"ClickHouse on cluster {cluster!r}: no place for ON CLUSTER in {statement[:80]!r}; the raw "
            "DDL (include/sql/clickhouse) may hold only create database/table if not exists and alter table."
        )
    clustered = f"{statement[: head.end()]} on cluster '{cluster}'{statement[head.end() :]}"
    return replicated_engine(clustered) if head["create_table"] else clustered


def replicated_engine(create_table: str) -> str:
    """A CREATE TABLE with its MergeTree-family engine in the Replicated form, as
    dbt/macros/cluster_engine.sql writes it: Keeper path and replica name first, the
    engine's own arguments after them. One already Replicated or Shared stays; a table
    with no such engine (or several) is an error, having no replicated form."""
    engines = list(_ENGINE.finditer(create_table))
    if len(engines) != 1:
        raise DdlError(
            f"ClickHouse: {create_table[:80]!r} names no MergeTree-family engine (or several), so it has "
            "no Replicated form for a cluster; give the table one in include/sql/clickhouse."
        )
    (engine,) = engines
    name, args = engine["name"], (engine["args"] or "").strip()
    if name.startswith(("Replicated", "Shared")):
        return create_table
    replicated = f"Replicated{name}({_KEEPER_ARGS}{', ' + args if args else ''})"
    return f"{create_table[: engine.start('name')]}{replicated}{create_table[engine.end() :]}"


def split_statements(sql: str) -> list[str]:
    """Split a script on ``;`` outside quotes, dropping ``--`` comments.

    ClickHouse's HTTP interface takes one statement per request. (PostgreSQL gets a
    script with a DO block whole: it holds semicolons inside a dollar-quoted body.)
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


_ADD_COLUMNS = re.compile(
    r"\s*alter\s+table\s+\S+\s+(?:on\s+cluster\s+\S+\s+)?add\s+column\s+if\s+not\s+exists\s", re.I
)
_ADDED_COLUMN = re.compile(r"\badd\s+column\s+if\s+not\s+exists\s+(\w+)", re.I)
_INDEX = re.compile(
    r"\s*alter\s+table\s+\S+\s+(?:on\s+cluster\s+\S+\s+)?"
    r"(?:add\s+index\s+if\s+not\s+exists|materialize\s+index)\s+(\w+)",
    re.I,
)
_CREATED = re.compile(r"\s*create\s+(database|table)\s+if\s+not\s+exists\s+([\w.]+)", re.I)


def added_columns(statement: str) -> list[str]:
    """The columns an ``alter table <t> add column if not exists ...`` statement adds, in
    order; [] for any other statement. (Only for statements made of such clauses alone,
    as in include/sql: this decides that the statement has nothing left to do.)"""
    if not _ADD_COLUMNS.match(statement):
        return []
    return _ADDED_COLUMN.findall(statement)


@dataclass(frozen=True)
class Present:
    """What of one topic's raw layer a server holds already: databases, tables
    (``schema.table``), the topic table's columns and skip indexes."""

    databases: frozenset[str] = frozenset()
    tables: frozenset[str] = frozenset()
    columns: frozenset[str] = frozenset()
    indexes: frozenset[str] = frozenset()


def needed(statement: str, present: Callable[[], Present]) -> bool:
    """False for a statement with nothing left to do: an add-column whose columns all
    exist, an add or materialize of a skip index that exists, a create-if-not-exists of
    a database or table that exists. ``present`` is asked only for such statements."""
    columns = added_columns(statement)
    if columns:
        return not set(columns) <= present().columns
    index = _INDEX.match(statement)
    if index:
        return index[1] not in present().indexes
    created = _CREATED.match(statement)
    if created:
        kind, name = created[1].lower(), created[2]
        return name not in (present().databases if kind == "database" else present().tables)
    return True


_PG_COLUMNS = """
select attname from pg_attribute
where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
"""
# One round trip for all that apply_clickhouse may skip.
_CH_PRESENT = """
select 'database', name from system.databases where name = {database:String}
union all select 'table', concat(database, '.', name) from system.tables
    where database = {database:String} and name in ({table:String}, {dead_letter_table:String})
union all select 'column', name from system.columns where database = {database:String} and table = {table:String}
union all select 'index', name from system.data_skipping_indices
    where database = {database:String} and table = {table:String}
"""


def _postgres_statements(script: str) -> list[str]:
    # A dollar-quoted body holds semicolons: such a script runs whole.
    return [script] if "$$" in script else split_statements(script)


def apply_postgres(conn, spec: TopicSpec) -> None:
    """Apply the PostgreSQL DDL in one transaction (psycopg 3 connection)."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(_PG_DDL_LOCK)

            @functools.cache  # as in apply_clickhouse
            def present() -> Present:
                # Columns only: PostgreSQL's create-if-not-exists costs nothing to repeat.
                cur.execute(_PG_COLUMNS, (f"{spec.raw_schema}.{spec.table}",))
                return Present(columns=frozenset(row[0] for row in cur.fetchall()))

            for _name, script in render("postgres", spec):
                for statement in _postgres_statements(script):
                    if needed(statement, present):
                        cur.execute(statement)
    except Exception as exc:
        raise DdlError(
            f"PostgreSQL: creating the raw tables {spec.qualified_table} and "
            f"{spec.qualified_dead_letter_table} for topic {spec.topic!r} failed: {exc}. "
            f"The loader role must own schema {spec.raw_schema!r} (the stack's provisioning does this); "
            "fix it and re-run the task."
        ) from exc


def apply_clickhouse(client, spec: TopicSpec) -> None:
    """Apply the ClickHouse DDL statement by statement (clickhouse_connect client)."""

    # Asked once, before the first statement that may be skipped, and kept: each statement
    # of include/sql adds one thing that no later statement asks about, but for the
    # index's materialize, which must run after its add when both found it missing.
    @functools.cache
    def present() -> Present:
        parameters = {
            "database": spec.raw_schema,
            "table": spec.table,
            "dead_letter_table": spec.dead_letter_table,
        }
        found: dict[str, set[str]] = {"database": set(), "table": set(), "column": set(), "index": set()}
        for kind, name in client.query(_CH_PRESENT, parameters=parameters).result_rows:
            found[kind].add(name)
        return Present(*(frozenset(found[kind]) for kind in ("database", "table", "column", "index")))

    cluster = clickhouse_cluster()
    also = (
        f"; on cluster {cluster!r}, every server must name it in <remote_servers> and set the <macros> "
        "shard and replica, and ClickHouse Keeper must answer"
        if cluster
        else ""
    )
    for name, script in render("clickhouse", spec):
        for statement in split_statements(script):
            try:
                if needed(statement, present):
                    client.command(statement)
            except Exception as exc:
                raise DdlError(
                    f"ClickHouse: {name} for topic {spec.topic!r} (table {spec.qualified_table}) "
                    f"failed: {exc}. The connection's user needs CREATE on database {spec.raw_schema!r}{also}; "
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
