"""The local stack answers its real clients, on loopback only."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from kafka_elt.stack import airflow, kafka, supervision
from kafka_elt.stack.__main__ import ORDER, all_services, down, up
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import _group_pids


def test_clickhouse_from_a_separate_process_reads_and_writes(stack):
    table = f"monitoring.stack_probe_{uuid.uuid4().hex[:8]}"
    script = f"""
import clickhouse_connect
c = clickhouse_connect.get_client(host={stack.host!r}, port={stack.port("CLICKHOUSE_HTTP")},
                                  username={stack["CLICKHOUSE_USER"]!r}, password={stack["CLICKHOUSE_PASSWORD"]!r})
c.command("create table {table} (n UInt64) engine = MergeTree order by n")
c.insert("{table}", [[1], [2], [3]], column_names=["n"])
print(c.query("select sum(n) from {table}").result_rows[0][0])
c.command("drop table {table}")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "6"


def test_clickhouse_refuses_wrong_password_and_fences_default_user(stack, ch_client):
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import DatabaseError

    with pytest.raises(DatabaseError, match="Authentication failed"):
        clickhouse_connect.get_client(
            host=stack.host,
            port=stack.port("CLICKHOUSE_HTTP"),
            username=stack["CLICKHOUSE_USER"],
            password="wrong",
        )
    table = f"monitoring.fence_probe_{uuid.uuid4().hex[:8]}"
    ch_client.command(f"create table {table} (n UInt8) engine = MergeTree order by n")
    try:
        # The passwordless built-in `default` user (kept for the engine's own session)
        # must not reach any table.
        url = f"http://{stack.host}:{stack.port('CLICKHOUSE_HTTP')}/?query=select+count()+from+{table}"
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url, timeout=5)
        assert b"Not enough privileges" in denied.value.read()
    finally:
        ch_client.command(f"drop table {table}")


def test_psql_reaches_the_warehouse(stack):
    env = {**os.environ, "PGPASSWORD": stack["LOADER_PASSWORD"]}
    out = subprocess.run(
        ["psql", "-h", stack.host, "-p", str(stack.port("POSTGRES")), "-U", stack["LOADER_USER"],
         "-d", stack["WAREHOUSE_DB"], "-tAc", "select current_user, has_schema_privilege('raw', 'create')"],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    assert out.stdout.strip() == f"{stack['LOADER_USER']}|t"


def test_kafka_produce_and_consume_on_loopback(stack):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"stack-probe-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    producer.produce(topic, b"hello")
    assert producer.flush(10) == 0
    consumer = Consumer(
        {"bootstrap.servers": stack.kafka_bootstrap, "group.id": topic, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    msg = None
    for _ in range(30):
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            break
    consumer.close()
    admin.delete_topics([topic])[topic].result(timeout=30)
    assert msg is not None and msg.value() == b"hello"


def test_airflow_rest_api_answers_with_a_token(stack):
    token = airflow.token(stack)
    request = urllib.request.Request(
        f"{stack.airflow_url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert "dags" in json.load(response)
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{stack.airflow_url}/api/v2/dags", timeout=10)
    assert denied.value.code in (401, 403)


def _listening_addresses(pids: set[int]) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            found.append(line.split()[3])
    return found


def test_every_stack_process_listens_on_loopback_only(stack):
    pids = {
        p
        for group in all_services(stack).values()
        for svc in group
        if (pid := svc.pid())
        for p in _group_pids(pid)
    }
    pids |= {supervision.supervisord_pid(stack), supervision.listener_pid(stack)}
    addresses = _listening_addresses(pids)
    expected_ports = {
        stack.port(n) for n in ("KAFKA", "KAFKA_CONTROLLER", "POSTGRES", "CLICKHOUSE_HTTP", "AIRFLOW")
    }
    assert expected_ports <= {int(a.rsplit(":", 1)[1]) for a in addresses}
    for address in addresses:
        host = address.rsplit(":", 1)[0].strip("[]")
        assert host in ("127.0.0.1", "::ffff:127.0.0.1"), f"a stack process listens on {address}"


def test_supervisord_is_reached_through_a_private_unix_socket_only(stack):
    sock = supervision.socket_path(stack)
    assert sock.is_socket() and sock.stat().st_mode & 0o777 == 0o700
    supervisord = supervision.supervisord_pid(stack)
    assert supervisord and _listening_addresses({supervisord}) == []  # no TCP port at all
    assert supervision.Supervisor.of(stack).running()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_first_idempotent_produce_on_a_fresh_broker_is_quiet(stack, monkeypatch):
    """`up` waits for the broker's coordinators: the first produce after a brand-new broker
    does not log "Failed to acquire idempotence PID" (it did before; Kafka 4.3 answers
    COORDINATOR_LOAD_IN_PROGRESS until the controller hands the broker producer ids)."""
    state = Path(tempfile.mkdtemp(prefix="kstk-"))  # short: a unix socket path has 108 bytes
    monkeypatch.setenv("STACK_DIR", str(state))
    monkeypatch.setenv("KAFKA_PORT", str(_free_port()))
    monkeypatch.setenv("KAFKA_CONTROLLER_PORT", str(_free_port()))
    fresh = StackConfig.load(stack.root)
    (state / "lib").mkdir()
    (state / "lib" / "kafka").symlink_to(kafka.libs_dir(stack))  # the jars, not the data
    records: list[str] = []
    logger = logging.getLogger(f"test.fresh_broker.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(logging.Handler())
    logger.handlers[0].emit = lambda record: records.append(record.getMessage())
    try:
        up(fresh, ["kafka"])
        from confluent_kafka import Producer

        producer = Producer(
            {"bootstrap.servers": fresh.kafka_bootstrap, "enable.idempotence": True, "logger": logger}
        )
        producer.produce("market_candle", b"quiet?")
        assert producer.flush(30) == 0
        producer.poll(1)  # serve the log queue
        assert not [r for r in records if "idempotence PID" in r], records
    finally:
        down(fresh, list(ORDER))
        shutil.rmtree(state, ignore_errors=True)
