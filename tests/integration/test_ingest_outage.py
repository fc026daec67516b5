"""A database going down in the middle of a run.

- ClickHouse: a private ClickHouse server (the same chdb engine as the stack's) whose
  process is stopped, for real, right after the drain has connected to it.
- PostgreSQL: the stack's server cannot be stopped under other users' feet, so the
  drain's own session is killed with ``pg_terminate_backend`` at the same moment (what a
  server restart or failover does to a client), and a connection to a port where no
  server listens stands for a server that is down before the run starts.

Every case: the run fails with an error that names the topic, partition, offsets and
table and says what to do; no offset of the failed batch is committed and neither
database keeps it; once the database is back, a rerun loads every message exactly once.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import urllib.request
import uuid

import pytest

from kafka_elt.ingest.connections import Connections
from kafka_elt.ingest.errors import ConnectionFailed, SinkWriteError
from kafka_elt.producers.sample import candle_messages
from kafka_elt.stack.process import Service, wait_until
from tests.support.sandbox import open_sandbox


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OnDrainStart(logging.Handler):
    """Runs ``action`` once, when the drain logs that it is connected and starts reading."""

    def __init__(self, action) -> None:
        super().__init__(logging.INFO)
        self.action = action
        self.fired = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.fired and "draining offsets" in record.getMessage():
            self.fired = True
            self.action()


@pytest.fixture
def on_drain_start():
    logger = logging.getLogger("kafka_elt.ingest.drain")
    handlers, level = [], logger.level

    def install(action) -> OnDrainStart:
        handler = OnDrainStart(action)
        logger.addHandler(handler)
        handlers.append(handler)
        logger.setLevel(logging.INFO)
        return handler

    yield install
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def private_clickhouse(stack, tmp_path, monkeypatch):
    """A ClickHouse server of our own, reachable through its own Airflow connection."""
    port = free_port()
    user, password = "it_loader", uuid.uuid4().hex
    server = Service(
        name="it-clickhouse",
        command=[
            sys.executable,
            "-m",
            "kafka_elt.stack.chdb_server",
            "--data",
            str(tmp_path / "data"),
            "--conf-dir",
            str(tmp_path / "conf"),
            "--port",
            str(port),
        ],
        log_file=tmp_path / "server.log",
        pid_file=tmp_path / "server.pid",
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(stack.root / "plugins"),
            "CLICKHOUSE_USER": user,
            "CLICKHOUSE_PASSWORD": password,
        },
        cwd=tmp_path,
    )

    def start() -> None:
        server.start()

        def ping() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                return response.read().strip() == b"Ok."

        wait_until(ping, what="the private ClickHouse", timeout=60, service=server)

    conn_id = f"it_clickhouse_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "clickhouse",
                "host": "127.0.0.1",
                "port": port,
                "login": user,
                "password": password,
            }
        ),
    )
    start()
    server.restart = start  # type: ignore[attr-defined]
    server.conn_id = conn_id  # type: ignore[attr-defined]
    yield server
    server.stop()


def pg_count(pg_conn, table: str) -> int:
    with pg_conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        (count,) = cur.fetchone()
    pg_conn.commit()
    return count


def test_clickhouse_stopped_mid_run(private_clickhouse, kafka_bootstrap, pg_conn, on_drain_start):
    box = open_sandbox(
        "market_candle", kafka_bootstrap, partitions=1,
        connections=Connections(clickhouse_conn_id=private_clickhouse.conn_id),
    )  # fmt: skip
    try:
        box.produce(list(candle_messages(10, seed=1)))
        box.drain()
        table = box.spec.qualified_table
        box.produce(list(candle_messages(20, seed=2)))

        stopper = on_drain_start(private_clickhouse.stop)
        with pytest.raises(SinkWriteError) as failure:
            box.drain(batch_size=10)
        assert stopper.fired and not private_clickhouse.is_running()
        message = str(failure.value)
        assert f"ClickHouse insert into {table}" in message
        assert f"topic '{box.spec.topic}' partition 0 offsets 10..19" in message
        assert "PostgreSQL was rolled back and no offset was committed" in message
        assert "Check that ClickHouse is up" in message
        assert box.committed() == {0: 10}
        assert pg_count(pg_conn, table) == 10

        # Down before the run starts: refused at connect, with the connection id named.
        with pytest.raises(
            ConnectionFailed, match=f"ClickHouse through Airflow connection '{private_clickhouse.conn_id}'"
        ):
            box.drain()
        assert box.committed() == {0: 10}

        private_clickhouse.restart()
        (result,) = box.drain(batch_size=10)
        assert (result.start_offset, result.read, result.committed_offset) == (10, 20, 30)
        assert result.written["postgres"] == result.written["clickhouse"] == 20
        ch = box.connections.clickhouse()
        try:
            assert int(ch.command(f"select count() from {table}")) == 30  # no duplicates, no FINAL needed
            assert int(ch.command(f"select uniqExact(kafka_offset) from {table}")) == 30
        finally:
            ch.close()
        assert pg_count(pg_conn, table) == 30
    finally:
        if not private_clickhouse.is_running():
            private_clickhouse.restart()
        box.close()


def test_postgres_session_killed_mid_run(
    stack, kafka_bootstrap, pg_conn, ch_client, monkeypatch, on_drain_start
):
    # The drain's PostgreSQL connection gets its own application_name, so that exactly
    # that session can be found and terminated.
    app = f"it_ingest_{uuid.uuid4().hex[:8]}"
    base = json.loads(stack.environment()["AIRFLOW_CONN_WAREHOUSE_POSTGRES"])
    conn_id = f"it_postgres_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**base, "extra": {"application_name": app}})
    )
    box = open_sandbox(
        "market_candle", kafka_bootstrap, partitions=1, connections=Connections(postgres_conn_id=conn_id)
    )
    try:
        box.produce(list(candle_messages(25, seed=3)))
        box.drain(max_messages=5)
        table = box.spec.qualified_table

        def kill_session() -> None:
            with pg_conn.cursor() as cur:
                cur.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where application_name = %s",
                    (app,),
                )
                assert [row[0] for row in cur.fetchall()] == [True]
            pg_conn.commit()

        on_drain_start(kill_session)
        with pytest.raises(SinkWriteError) as failure:
            box.drain(batch_size=10)
        message = str(failure.value)
        assert f"PostgreSQL write into {table}" in message and "offsets 5..14" in message
        assert "no offset was committed" in message
        assert box.committed() == {0: 5}
        assert pg_count(pg_conn, table) == 5
        assert int(ch_client.command(f"select count() from {table}")) == 5

        (result,) = box.drain(batch_size=10)
        assert (result.start_offset, result.committed_offset) == (5, 25)
        assert pg_count(pg_conn, table) == 25
        assert int(ch_client.command(f"select count() from {table}")) == 25
    finally:
        box.close()


def test_postgres_unreachable_commits_nothing(stack, kafka_bootstrap, monkeypatch, ch_client):
    base = json.loads(stack.environment()["AIRFLOW_CONN_WAREHOUSE_POSTGRES"])
    down = f"it_pg_down_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{down.upper()}", json.dumps({**base, "port": free_port()}))
    box = open_sandbox("market_candle", kafka_bootstrap, partitions=1)
    try:
        box.produce(list(candle_messages(12, seed=4)))
        box.drain(max_messages=2)
        healthy = box.connections
        box.connections = Connections(postgres_conn_id=down)
        with pytest.raises(
            ConnectionFailed, match=f"cannot connect to PostgreSQL through Airflow connection '{down}'"
        ):
            box.drain()
        assert box.committed() == {0: 2}
        assert int(ch_client.command(f"select count() from {box.spec.qualified_table}")) == 2
        box.connections = healthy
        (result,) = box.drain()
        assert (result.start_offset, result.committed_offset, result.written["postgres"]) == (2, 12, 10)
    finally:
        box.close()
