"""Faults on the distributed profile, each ending with the same ledger: every produced
message in each engine's raw table exactly once, the dead letters intact, the pipeline's
committed offsets equal to the high watermarks, and the marts of both engines agreeing.

- a Celery worker killed (SIGKILL to its whole process group, as a lost machine) while a
  drain runs on it: the scheduler notices the missing heartbeat and the retry runs on the
  other worker;
- the broker leading a partition killed while drains run, down for a while, restarted:
  the drains carry on against the new leaders or fail clearly, and the retries finish;
- a producer writing (acks=all, idempotent) through the same broker kill: every message it
  had acknowledged arrives.

Mid-drain is detected as in tests/integration/test_stack_supervision.py: PostgreSQL holds
some, not all, of the produced messages.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kafka_elt.stack import airflow, kafka
from kafka_elt.stack.process import _group_pids, wait_until
from kafka_elt.stack.supervision import Supervisor
from tests.support import pipeline

TOPIC = pipeline.CANDLE_TOPIC
DAG = "ingest_market_candle"
DELIVERY_TIMEOUT_S = 900
MESSAGES = 240_000  # 80,000 per partition: two batches each, so a drain has a middle
DEAD_LETTERS = 12


@dataclass
class Produced:
    code: str
    before: dict[int, int]
    after: dict[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(self.after.values()) - sum(self.before.values())


def _produce_batch(bootstrap: str, code: str, candles: int) -> None:
    poison = [f'{{"code": "{code}", "broken' for _ in range(DEAD_LETTERS)]  # not JSON: dead letters
    pipeline.produce(bootstrap, TOPIC, poison + pipeline.candles(code, candles))


def _committed(bootstrap: str, group: str, partitions) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(TOPIC, p) for p in partitions], timeout=30)
        return {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()


def _raw(pg_conn, ch_client, produced: Produced) -> dict[str, tuple[int, int]] | None:
    """Raw candle counts, or None until the first run of a fresh stack has created the tables."""
    try:
        return pipeline.offset_range_counts(
            pg_conn, ch_client, "raw.market_candle", produced.before, produced.after
        )
    except Exception:
        pg_conn.rollback()
        return None


def _mid_drain(pg_conn, ch_client, produced: Produced) -> bool:
    counts = _raw(pg_conn, ch_client, produced)
    return counts is not None and 0 < counts["postgres"][0] < produced.count - DEAD_LETTERS


def assert_ledger(stack, api, warehouses, produced: Produced) -> dict:
    """Every produced message once in each engine, dead letters intact, offsets committed
    up to the high watermarks, marts equal across engines. Returns what it saw."""
    pg_conn, ch_client = warehouses
    candles = produced.count - DEAD_LETTERS
    expected = {"postgres": (candles, candles), "clickhouse": (candles, candles)}
    wait_until(
        lambda: _raw(pg_conn, ch_client, produced) == expected,
        what=f"{candles} candles once in both raw tables",
        timeout=DELIVERY_TIMEOUT_S,
        interval=2,
    )
    pipeline.wait_quiet(api, DELIVERY_TIMEOUT_S)
    raw = pipeline.offset_range_counts(
        pg_conn, ch_client, "raw.market_candle", produced.before, produced.after
    )
    assert raw == expected
    dead = pipeline.offset_range_counts(
        pg_conn, ch_client, "raw.dead_letter", produced.before, produced.after, topic=TOPIC
    )
    assert dead == {"postgres": (DEAD_LETTERS, DEAD_LETTERS), "clickhouse": (DEAD_LETTERS, DEAD_LETTERS)}
    watermarks = pipeline.partition_offsets(stack.kafka_bootstrap, TOPIC)
    committed = _committed(stack.kafka_bootstrap, "kafka-elt", watermarks)
    assert committed == watermarks, f"committed offsets {committed} != high watermarks {watermarks}"
    pipeline.wait_for_marts(
        pg_conn, ch_client, "no-footprints", produced.code, (0, candles), DELIVERY_TIMEOUT_S
    )
    seen = {"raw": raw, "dead_letters": dead, "committed": committed, "watermarks": watermarks}
    print(f"ledger: {seen}")
    return seen


def _drain_tries(api, since: float) -> list[dict]:
    """Drain task instances of the runs started since ``since`` (epoch seconds)."""
    found = []
    for run in api.runs(DAG, limit=20):
        if not run.get("start_date") or _epoch(run["start_date"]) < since - 5:
            continue
        path = f"/dags/{DAG}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}/taskInstances?limit=100"
        found += [ti for ti in api.request("GET", path)["task_instances"] if ti["task_id"] == "drain"]
    return found


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def _workers(stack) -> list:
    return [svc for svc in airflow.services(stack) if svc.name.startswith("airflow-worker-")]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, IndexError, ValueError):
        return 0


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``: a task runs in a process group of its own (Airflow's
    task supervisor ``setpgid``s it), so the worker's group alone does not hold it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            children.setdefault(_parent(int(entry.name)), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _worker_of(stack, pid: int | None):
    """The worker running the task process ``pid`` (one of its ancestors)."""
    leaders = {svc.pid(): svc for svc in _workers(stack)}
    while pid and pid > 1:
        if pid in leaders:
            return leaders[pid]
        pid = _parent(pid)
    return None


def _kill_worker(svc) -> list[int]:
    """SIGKILL a worker and everything below it at once, as a lost machine: its Celery
    processes, the task supervisors and the tasks themselves."""
    leader = svc.pid()
    victims = [leader, *_descendants(leader), *_group_pids(leader)]
    for pid in dict.fromkeys(victims):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return victims


def _start_again(svc) -> None:
    svc.start()
    wait_until(lambda: airflow.worker_ready(svc), what=f"{svc.name} ready again", timeout=180, service=svc)


@pytest.fixture
def api(distributed):
    api = pipeline.unpaused_pipeline(distributed)
    # A few page visits: on a fresh stack the footprint marts (which mart_checksums and
    # the mart check read) exist only once some have arrived.
    pipeline.produce(distributed.kafka_bootstrap, pipeline.WEB_TOPIC, pipeline.footprints("dist-seed", 3))
    pipeline.wait_quiet(api, DELIVERY_TIMEOUT_S)
    return api


def test_a_worker_killed_mid_drain_hands_the_drain_to_the_other_worker(distributed, api, warehouses):
    pg_conn, ch_client = warehouses
    produced = Produced(pipeline.markers()[1], pipeline.partition_offsets(distributed.kafka_bootstrap, TOPIC))
    started = time.time()
    _produce_batch(distributed.kafka_bootstrap, produced.code, MESSAGES)
    produced.after = pipeline.partition_offsets(distributed.kafka_bootstrap, TOPIC)
    assert produced.count == MESSAGES + DEAD_LETTERS

    # A drain running on a worker, half-way through the messages.
    victim, ti = None, None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:
        if _mid_drain(pg_conn, ch_client, produced):
            running = [t for t in _drain_tries(api, started) if t["state"] == "running"]
            ti = running[0] if running else None
            victim = _worker_of(distributed, ti["pid"]) if ti else None
        time.sleep(0.1)
    assert victim is not None, "no drain was seen running on a worker mid-way"
    survivor = next(svc for svc in _workers(distributed) if svc.name != victim.name)
    killed_at = time.time()
    killed = _kill_worker(victim)
    # The worker stays down (a lost machine): supervisord would bring it back within a second.
    Supervisor.of(distributed).stop(victim.name)
    print(
        f"SIGKILL to {victim.name} ({len(set(killed))} processes) while it ran drain map_index "
        f"{ti['map_index']} try {ti['try_number']}"
    )
    try:
        seen = assert_ledger(distributed, api, warehouses, produced)
        retry = next(
            t
            for t in _drain_tries(api, started)
            if t["map_index"] == ti["map_index"] and t["dag_run_id"] == ti["dag_run_id"]
        )
        assert retry["try_number"] > ti["try_number"] and retry["state"] == "success", retry
        assert api.run_state(DAG, ti["dag_run_id"]) == "success"
        # The retry ran on the survivor: its log has the workload (each try has a new id,
        # so it is found by run, task, map index and try number).
        wanted = (
            f"run_id='{ti['dag_run_id']}'",
            "task_id='drain'",
            f"map_index={ti['map_index']} ",
            f"try_number={retry['try_number']} ",
        )
        lines = [
            line
            for line in survivor.log_file.read_text(errors="replace").splitlines()
            if "Executing workload" in line and all(part in line.replace(",", " ") for part in wanted)
        ]
        assert lines, f"{survivor.name} did not run try {retry['try_number']} of {ti}"
        print(
            f"retry try {retry['try_number']} on {survivor.name} {time.time() - killed_at:.0f}s after the kill; {seen}"
        )
    finally:
        _start_again(victim)


def _leader_of(stack, partition: int):
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": stack.kafka_bootstrap}).list_topics(TOPIC, timeout=10)
    leader = meta.topics[TOPIC].partitions[partition].leader
    node = next(n for n in stack.kafka_nodes if n.node_id == leader)
    return kafka.service(stack, node)


def _candle(code: str, timestamp: int) -> str:
    return json.dumps(
        {
            "type": "candle",
            "code": code,
            "opening_price": 10.0,
            "high_price": 11.0,
            "low_price": 9.0,
            "trade_price": 10.5,
            "candle_acc_trade_volume": 1.0,
            "candle_acc_trade_price": 10.5,
            "timestamp": timestamp,
            "stream_type": "realtime",
        }
    )


class AckCounter:
    """A producer writing candles (acks=all, idempotent) from a thread until stopped;
    counts what the brokers acknowledged and keeps what failed."""

    def __init__(self, bootstrap: str, code: str, per_second: int = 4000):
        from confluent_kafka import Producer

        self.code, self.per_second = code, per_second
        self.acked, self.failed = 0, []
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 20}
        )
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.unflushed = -1

    def _report(self, err, _msg) -> None:
        if err is None:
            self.acked += 1
        else:
            self.failed.append(str(err))

    def _run(self) -> None:
        minute = int(time.time()) // 60 * 60
        sent = 0
        while not self.stopping.is_set():
            for _ in range(self.per_second // 10):
                self.producer.produce(
                    TOPIC, _candle(self.code, minute - 60 * sent).encode(), on_delivery=self._report
                )
                sent += 1
            self.producer.poll(0)
            time.sleep(0.1)
        self.unflushed = self.producer.flush(300)

    def __enter__(self) -> AckCounter:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.thread.join(330)


def _kill_and_hold(stack, partition: int, down_seconds: float):
    """SIGKILL the broker leading ``partition``, keep it down ``down_seconds`` (supervisord
    would restart it at once), then start it again and wait until it serves."""
    broker = _leader_of(stack, partition)
    node = next(n for n in stack.kafka_nodes if n.name == broker.name)
    os.kill(broker.pid(), signal.SIGKILL)
    Supervisor.of(stack).stop(broker.name)
    print(f"SIGKILL to {broker.name}, leader of {TOPIC}-{partition}")
    time.sleep(down_seconds)
    broker.start()
    took = wait_until(
        lambda: kafka._broker_ready(stack, node), what=f"{broker.name} back", timeout=180, service=broker
    )
    print(f"{broker.name} serving {took:.1f}s after its restart")
    return broker


def test_the_leader_broker_killed_mid_drain_then_restarted_loses_and_doubles_nothing(
    distributed, api, warehouses
):
    pg_conn, ch_client = warehouses
    produced = Produced(pipeline.markers()[1], pipeline.partition_offsets(distributed.kafka_bootstrap, TOPIC))
    started = time.time()
    _produce_batch(distributed.kafka_bootstrap, produced.code, MESSAGES)
    produced.after = pipeline.partition_offsets(distributed.kafka_bootstrap, TOPIC)
    wait_until(
        lambda: _mid_drain(pg_conn, ch_client, produced), what="drains half-way", timeout=300, interval=0.1
    )
    _kill_and_hold(distributed, partition=0, down_seconds=20)
    seen = assert_ledger(distributed, api, warehouses, produced)
    # Each partition's drain ended green, on its first try (it carried on against the new
    # leader) or a retry (it failed clearly). A run that found nothing skips its drain.
    tries = {
        (t["dag_run_id"], t["map_index"]): (t["try_number"], t["state"])
        for t in _drain_tries(api, started)
        if t["map_index"] >= 0
    }
    assert tries and all(state == "success" for _, state in tries.values()), tries
    print(f"drains (run, partition) -> (try, state): {tries}; {seen}")


def test_a_producer_writing_through_the_broker_kill_loses_no_acknowledged_message(
    distributed, api, warehouses
):
    code = pipeline.markers()[1]
    produced = Produced(code, pipeline.partition_offsets(distributed.kafka_bootstrap, TOPIC))
    _produce_batch(distributed.kafka_bootstrap, code, 0)  # the dead letters
    with AckCounter(distributed.kafka_bootstrap, code) as writer:
        time.sleep(5)
        _kill_and_hold(distributed, partition=0, down_seconds=15)
        time.sleep(5)
    assert writer.unflushed == 0 and not writer.failed, (writer.unflushed, writer.failed[:5])
    produced.after = pipeline.partition_offsets(distributed.kafka_bootstrap, TOPIC)
    # Idempotent: what the log holds is exactly what was acknowledged, nothing twice.
    assert produced.count == writer.acked + DEAD_LETTERS
    seen = assert_ledger(distributed, api, warehouses, produced)
    print(f"acknowledged {writer.acked} candles during the broker kill; {seen}")
