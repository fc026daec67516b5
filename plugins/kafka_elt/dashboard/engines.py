"""Run one query on one engine and time it, the way a dashboard would see it.

The timed span is what a dashboard waits for: send the SQL over an open connection and
receive every row as Python values. Connecting is not timed (a dashboard keeps a pool);
normalising the rows for the comparison is not timed either.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from kafka_elt.dashboard.compare import QueryResult


class Engine(Protocol):
    name: str

    def run(self, sql: str, params: dict[str, Any]) -> tuple[float, QueryResult]: ...

    def fetch(self, sql: str) -> list[tuple]: ...

    def close(self) -> None: ...


class PostgresEngine:
    """A psycopg (3) connection in autocommit: each query is its own snapshot, as a
    dashboard's would be, and no transaction stays open between repetitions."""

    name = "postgres"

    def __init__(self, conn):
        conn.autocommit = True
        self.conn = conn

    def run(self, sql: str, params: dict[str, Any]) -> tuple[float, QueryResult]:
        with self.conn.cursor() as cur:
            started = time.perf_counter()
            cur.execute(sql, params or None)
            rows = cur.fetchall()
            elapsed = time.perf_counter() - started
            columns = [d.name for d in cur.description]
        return elapsed, QueryResult.from_driver(columns, rows)

    def fetch(self, sql: str) -> list[tuple]:
        """Rows as the driver returns them (bookkeeping reads, not timed)."""
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()


class ClickHouseEngine:
    """A clickhouse-connect client over HTTP: ClickHouse's own interface, as its
    dashboard clients use it."""

    name = "clickhouse"

    def __init__(self, client):
        self.client = client

    def run(self, sql: str, params: dict[str, Any]) -> tuple[float, QueryResult]:
        started = time.perf_counter()
        result = self.client.query(sql, parameters=params or None)
        rows = result.result_rows
        elapsed = time.perf_counter() - started
        columns = result.column_names
        if not columns and not rows:
            # Some empty results come back without a data block, hence without column
            # names; ask the server for the query's columns (outside the timed part) so
            # that an empty answer compares equal to PostgreSQL's empty answer.
            described = self.client.query(f"describe ({sql})", parameters=params or None)
            columns = [row[0] for row in described.result_rows]
        return elapsed, QueryResult.from_driver(columns, rows)

    def fetch(self, sql: str) -> list[tuple]:
        """Rows as the driver returns them (bookkeeping reads, not timed)."""
        return [tuple(r) for r in self.client.query(sql).result_rows]

    def close(self) -> None:
        self.client.close()


class EngineUnavailable(RuntimeError):
    """Connecting to one engine failed; names the Airflow connection to check."""


def open_postgres(conn_id: str, *, statement_timeout_s: float | None = None) -> PostgresEngine:
    """PostgreSQL through an Airflow connection; ``statement_timeout_s`` bounds every
    statement on the server (set at login, so no query runs without it)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    options = (
        None if statement_timeout_s is None else f"-c statement_timeout={int(statement_timeout_s * 1000)}"
    )
    try:
        return PostgresEngine(PostgresHook(postgres_conn_id=conn_id, options=options).get_conn())
    except Exception as exc:
        raise EngineUnavailable(
            f"cannot connect to PostgreSQL through Airflow connection {conn_id!r}: {exc}. "
            "Is the database up (`make status`) and the connection right?"
        ) from exc


def open_clickhouse(conn_id: str, *, timeout_s: float | None = None) -> ClickHouseEngine:
    """ClickHouse through an Airflow connection; ``timeout_s`` bounds connecting, every
    HTTP exchange (client side) and every query's execution (server side)."""
    from airflow.providers.clickhousedb.hooks.clickhouse import ClickHouseHook

    kwargs: dict[str, Any] = {}
    if timeout_s is not None:
        kwargs = {
            "client_kwargs": {"connect_timeout": timeout_s, "send_receive_timeout": timeout_s + 1},
            "session_settings": {"max_execution_time": max(int(timeout_s), 1)},
        }
    try:
        return ClickHouseEngine(ClickHouseHook(clickhouse_conn_id=conn_id, **kwargs).get_client())
    except Exception as exc:
        raise EngineUnavailable(
            f"cannot connect to ClickHouse through Airflow connection {conn_id!r}: {exc}. "
            "Is the server up (`make status`) and the connection right?"
        ) from exc


def open_engines(postgres_conn_id: str, clickhouse_conn_id: str) -> list[Engine]:
    """Both engines, from Airflow connections (credentials never pass through here)."""
    pg = open_postgres(postgres_conn_id)
    try:
        ch = open_clickhouse(clickhouse_conn_id)
    except Exception:
        pg.close()
        raise
    return [pg, ch]
