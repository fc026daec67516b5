"""Scaling on the distributed profile: ingestion through Airflow's Celery workers with
3, 6 and 12 partitions, and where the time and the CPU go.

    make bench-scaling                  # starts the distributed profile if needed, then:
    .venv/bin/python bench/scaling.py --partitions 3,6,12 --messages 300000 [--keep]

Per partition count, on the distributed profile (three Kafka brokers, two Celery
workers; run it with the Makefile's DIST_ENV, as `make bench-scaling` does):

1. recreates the benchmark topic with that many partitions, replication factor
   min(3, brokers) and min.insync.replicas 2, empty consumer group, no raw tables;
2. produces ``--messages`` candle messages (the producers' throughput config: acks=all,
   idempotence, lz4);
3. triggers a run of the real ingestion DAG for that topic through Airflow's REST API and
   waits for it: ``plan``, one mapped ``drain`` per partition on the Celery workers, then
   ``publish``. Recorded: which worker ran each drain (its log's "Executing workload"
   line for that task instance; the API's hostname is the same for both workers on one
   machine), each task's queue/start/end, the run's wall time from queued to end,
   messages per second end to end and inside the drains, and the task-start overhead;
4. measures CPU per message over the run: the workers' process trees (the drains,
   their task supervisors and Celery), PostgreSQL, ClickHouse, the three brokers and
   Airflow's control plane (bench/stack_cpu.py, per service of the profile), with the
   machine's busy CPU and load average before and after, so that the CPU other work on
   the machine took is visible next to each figure;
5. checks the ledger: rows in both raw tables = messages produced (each offset once),
   committed offsets = high watermarks. A failed check prints BAD and the exit status is 1.

Then one table, and a projection from the CPU per message, labelled as an estimate.

**How the drains are triggered (the design choice).** The drains run the way users run
them: a DAG run of ``dags/kafka_ingest.py``'s generated ingestion DAG, its mapped tasks
on the Celery workers. That DAG is built from the topic registry, which the DAG
processor and every task process read from ``KAFKA_ELT_TOPICS_FILE`` (default
``include/topics.yaml``). The Makefile's distributed profile points that variable at a
copy written by ``--write-registry``: the real registry plus one topic,
``bench-scaling-candle`` -> ``raw.bench_scaling_candle`` (``ingest_bench_scaling_candle``),
with the market_candle topic's kind and budgets, ``watch: false`` and no schedule, so
it runs only when triggered, and its own consumer group. The committed registry stays
as it is. The alternative, recreating the real ``market_candle`` topic with N
partitions, would have meant truncating its raw tables (they are keyed by offsets,
which a new topic hands out from 0 again), racing its lag watcher, and leaving the fault
tests' data in pieces. ``dbt_marts``, which any raw-table Asset schedules, is paused
while the benchmark runs (and left as it was), so no dbt build lands in a measurement.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from phases import drop_raw_table  # bench/, beside this script
from stack_cpu import machine_busy_seconds, stack_cpu_seconds

from kafka_elt.stack.config import StackConfig

BENCH_TOPIC = "bench-scaling-candle"
BENCH_TABLE = "bench_scaling_candle"
BENCH_GROUP = "bench-scaling"
DAG_ID = f"ingest_{BENCH_TABLE}"
# Paused during the benchmark: scheduled on every raw-table Asset, the bench run's included.
PAUSED_WHILE_RUNNING = ("dbt_marts",)
RUN_TIMEOUT_S = 1800


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and what to do."""


# ---------------------------------------------------------------- the registry


def write_registry(path: Path) -> None:
    """include/topics.yaml plus the benchmark's manual-only topic, checked, into ``path``."""
    import yaml

    from kafka_elt.ingest.registry import parse_registry
    from kafka_elt.settings import REGISTRY_FILE

    document = yaml.safe_load(REGISTRY_FILE.read_text())
    candle = document["topics"]["market_candle"]
    document["topics"][BENCH_TOPIC] = {
        **{k: v for k, v in candle.items() if k != "description"},
        "table": BENCH_TABLE,
        "watch": False,
        "schedule": None,
        "consumer_group": BENCH_GROUP,
        # One run drains everything, whatever the partition count and the machine's load.
        "max_seconds": 3600,
        "description": "bench/scaling.py only: recreated per partition count, triggered by hand.",
    }
    parse_registry(document, str(path))
    path.write_text(
        f"# Written by bench/scaling.py from {REGISTRY_FILE}: that registry plus the scaling\n"
        "# benchmark's manual-only topic. Do not edit; `make bench-scaling` writes it anew.\n"
        + yaml.safe_dump(document, sort_keys=False)
    )
    print(f"bench: wrote {path} (include/topics.yaml + {BENCH_TOPIC}, DAG {DAG_ID})")


# ---------------------------------------------------------------- Kafka and the tables


def _admin(cfg: StackConfig):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": cfg.kafka_bootstrap})


def _wait(what: str, check, timeout: float = 60.0, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def drop_topic(cfg: StackConfig) -> None:
    """Delete the benchmark topic and its consumer group, and wait until both are gone."""
    from confluent_kafka import KafkaError, KafkaException

    admin = _admin(cfg)
    if BENCH_TOPIC in admin.list_topics(timeout=10).topics:
        admin.delete_topics([BENCH_TOPIC], operation_timeout=30)[BENCH_TOPIC].result(60)
        _wait(
            f"topic {BENCH_TOPIC} to be deleted",
            lambda: BENCH_TOPIC not in admin.list_topics(timeout=10).topics,
        )
    try:
        admin.delete_consumer_groups([BENCH_GROUP], request_timeout=30)[BENCH_GROUP].result(60)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.GROUP_ID_NOT_FOUND:
            raise BenchError(f"could not delete consumer group {BENCH_GROUP}: {exc}") from exc


def create_topic(cfg: StackConfig, partitions: int) -> tuple[int, int]:
    """A new, empty benchmark topic; returns (replication factor, min.insync.replicas)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    admin = _admin(cfg)
    replication = min(3, len(admin.list_topics(timeout=10).brokers))
    isr = min(2, replication)
    topic = NewTopic(BENCH_TOPIC, num_partitions=partitions, replication_factor=replication,
                     config={"min.insync.replicas": str(isr)})  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            admin.create_topics([topic], operation_timeout=30)[BENCH_TOPIC].result(60)
            break
        except KafkaException as exc:  # a deletion the controller is still finishing
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or time.monotonic() > deadline:
                raise BenchError(
                    f"could not create topic {BENCH_TOPIC} ({partitions} partitions): {exc}"
                ) from exc
            time.sleep(1)

    def replicated() -> bool:
        meta = admin.list_topics(BENCH_TOPIC, timeout=10).topics.get(BENCH_TOPIC)
        return bool(meta and len(meta.partitions) == partitions) and all(
            p.leader >= 0 and len(p.isrs) == replication for p in meta.partitions.values()
        )

    _wait(
        f"{BENCH_TOPIC}'s {partitions} partitions to have a leader and {replication} in-sync replicas",
        replicated,
    )
    return replication, isr


def drop_tables(spec) -> None:
    """The benchmark's raw table in both engines (the shared dead-letter table stays)."""
    from kafka_elt.ingest.connections import Connections

    drop_raw_table(Connections(), spec)


def wal_bytes() -> int:
    """PostgreSQL's WAL position: bytes written since the server's first WAL record."""
    from kafka_elt.ingest.connections import Connections

    pg = Connections().postgres()
    with pg.cursor() as cur:
        cur.execute("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
        position = int(cur.fetchone()[0])
    pg.close()
    return position


def produce(cfg: StackConfig, count: int) -> float:
    """``count`` candle messages (acks=all, idempotent); returns the seconds it took."""
    from kafka_elt.producers.kafka import DeliveryTracker, make_producer, produce_all
    from kafka_elt.producers.sample import candle_messages

    tracker = DeliveryTracker()
    producer = make_producer(cfg.kafka_bootstrap, tracker)
    started = time.monotonic()
    # Keys spread over many values so that every partition gets a fair share.
    messages = ((f"{i % 997}".encode(), value) for i, (_, value) in enumerate(candle_messages(count, seed=7)))
    produce_all(producer, tracker, BENCH_TOPIC, messages, label="  produce", progress_every_s=10.0,
                out=sys.stdout)  # fmt: skip
    return time.monotonic() - started


# ---------------------------------------------------------------- CPU


# Per service of .stack/run/*.pid (bench/stack_cpu.py), grouped the way the table reads.
def cpu_group(service: str) -> str:
    if service.startswith("airflow-worker-"):
        return "workers"
    if service in ("postgres", "clickhouse"):
        return service
    if service == "kafka" or service.startswith("kafka-"):
        return "kafka"
    if service.startswith("airflow-") or service == "redis":
        return "airflow"  # scheduler, api-server, dag-processor, triggerer, Celery's broker
    return "other"


DATA_PATH = ("workers", "postgres", "clickhouse", "kafka")


@dataclass
class Snapshot:
    at: float
    services: dict[str, float]
    busy: float
    load: tuple[float, float, float]
    own: float  # this script's CPU

    @classmethod
    def take(cls, cfg: StackConfig) -> Snapshot:
        usage = os.times()
        return cls(time.time(), stack_cpu_seconds(cfg), machine_busy_seconds(), os.getloadavg(),
                   usage.user + usage.system)  # fmt: skip


def idle_cores(cfg: StackConfig, seconds: float) -> dict[str, float]:
    """Cores each group uses with nothing to do (brokers, scheduler loops, the workers'
    heartbeats): part of every figure below, in proportion to wall time, not messages."""
    before = Snapshot.take(cfg)
    time.sleep(seconds)
    after = Snapshot.take(cfg)
    return {group: cpu / (after.at - before.at) for group, cpu in cpu_between(before, after).items()}


def cpu_between(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU-s per group in the window, plus ``bench`` (this script) and ``others`` (the rest
    of the machine)."""
    groups: dict[str, float] = dict.fromkeys((*DATA_PATH, "airflow", "other"), 0.0)
    for name, seconds in after.services.items():
        groups[cpu_group(name)] += max(seconds - before.services.get(name, 0.0), 0.0)
    groups["bench"] = after.own - before.own
    groups["others"] = max(after.busy - before.busy - sum(groups.values()), 0.0)
    return groups


# ---------------------------------------------------------------- Airflow


def _epoch(iso: str | None) -> float:
    if not iso:
        raise BenchError("a finished task instance or run without a start or end time; see the Airflow UI")
    return datetime.fromisoformat(iso).timestamp()


def _run_path(run_id: str) -> str:
    return f"/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}"


def set_paused(api, dag_id: str, paused: bool) -> bool:
    """Pause or unpause ``dag_id``; returns whether it was paused before."""
    was = bool(api.request("GET", f"/dags/{dag_id}")["is_paused"])
    if was != paused:
        api.request("PATCH", f"/dags/{dag_id}", {"is_paused": paused})
    return was


def wait_for_run(api, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        run = api.request("GET", _run_path(run_id))
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(1.0)
    raise BenchError(f"{DAG_ID} run {run_id} still running after {RUN_TIMEOUT_S}s; see the Airflow UI")


def task_instances(api, run_id: str) -> list[dict]:
    return api.request("GET", f"{_run_path(run_id)}/taskInstances?limit=100")["task_instances"]


def drain_result(api, run_id: str, map_index: int) -> dict:
    """What one drain returned (kafka_elt.ingest.drain.PartitionResult.to_dict)."""
    import json

    path = f"{_run_path(run_id)}/taskInstances/drain/xcomEntries/return_value?map_index={map_index}"
    value = api.request("GET", path)["value"]
    return json.loads(value) if isinstance(value, str) else value


def worker_of(cfg: StackConfig, ti: dict) -> str:
    """The Celery worker that ran ``ti``: its log has the workload, named by the task
    instance's id (one per try). The API's hostname is this machine's for both workers."""
    from kafka_elt.stack import airflow

    needle = f"id=UUID('{ti['id']}')"
    found = [
        svc.name.removeprefix("airflow-")
        for svc in airflow.services(cfg)
        if svc.name.startswith("airflow-worker-")
        and svc.log_file.exists()
        and any(
            "Executing workload" in line and needle in line
            for line in svc.log_file.read_text(errors="replace").splitlines()
        )
    ]
    return ",".join(found) or "?"


# ---------------------------------------------------------------- one step


@dataclass
class Step:
    partitions: int
    messages: int
    replication: tuple[int, int]
    produce_s: float
    run: dict
    tis: list[dict]
    workers: dict[int, str]  # drain map index -> worker
    results: dict[int, dict]  # drain map index -> PartitionResult dict
    cpu: dict[str, float]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wal: int = 0  # bytes of PostgreSQL WAL during the run (the whole server)
    checks: dict[str, bool] = field(default_factory=dict)

    def ti(self, task_id: str) -> dict:
        return next(t for t in self.tis if t["task_id"] == task_id)

    @property
    def drains(self) -> list[dict]:
        return sorted((t for t in self.tis if t["task_id"] == "drain"), key=lambda t: t["map_index"])

    @property
    def wall(self) -> float:
        return _epoch(self.run["end_date"]) - _epoch(self.run["queued_at"])

    @property
    def rate(self) -> float:
        return self.messages / self.wall

    @property
    def first_drain_after(self) -> float:
        """From the run's start to the first drain running: plan's queueing, start-up and
        work, and the mapped tasks' scheduling and start."""
        return min(_epoch(t["start_date"]) for t in self.drains) - _epoch(self.run["start_date"])

    @property
    def drain_span(self) -> float:
        return max(_epoch(t["end_date"]) for t in self.drains) - min(
            _epoch(t["start_date"]) for t in self.drains
        )

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    def per_message_us(self, groups, idle: dict[str, float] | None = None) -> float:
        """CPU per message of ``groups``; with ``idle``, less what they use doing nothing."""
        used = sum(self.cpu[g] - (idle[g] * self.wall if idle else 0.0) for g in groups)
        return used / self.messages * 1e6


def verify(cfg: StackConfig, spec, step: Step) -> None:
    """Ledger: each produced message once in both raw tables, offsets committed to the end."""
    from confluent_kafka import Consumer, TopicPartition

    from kafka_elt.ingest.connections import Connections

    connections = Connections()
    pg = connections.postgres()
    with pg.cursor() as cur:
        cur.execute(
            f"select count(*), count(distinct (kafka_partition, kafka_offset)) from {spec.qualified_table}"
        )
        pg_rows = tuple(int(v) for v in cur.fetchone())
    pg.close()
    ch = connections.clickhouse()
    ch_rows = tuple(int(v) for v in ch.query(
        f"select count(), uniqExact(kafka_partition, kafka_offset) from {spec.qualified_table}").result_rows[0])  # fmt: skip
    ch.close()
    consumer = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": BENCH_GROUP,
                         "enable.auto.commit": False})  # fmt: skip
    try:
        parts = [TopicPartition(BENCH_TOPIC, p) for p in range(step.partitions)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=30)}
        high = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
    finally:
        consumer.close()
    expected = (step.messages, step.messages)
    step.checks = {
        "run succeeded": step.run["state"] == "success",
        f"PostgreSQL rows {pg_rows[0]:,} ({pg_rows[1]:,} distinct offsets) = produced": pg_rows == expected,
        f"ClickHouse rows {ch_rows[0]:,} ({ch_rows[1]:,} distinct offsets) = produced": ch_rows == expected,
        f"committed offsets {committed} = high watermarks {high}": committed == high
        and sum(high.values()) == step.messages,
        "one drain per partition, none dead-lettered": len(step.results) == step.partitions
        and sum(r["dead_lettered"] for r in step.results.values()) == 0,
    }


def run_step(cfg: StackConfig, api, spec, partitions: int, messages: int) -> Step:
    print(f"\n--- {partitions} partitions, {messages:,} messages", flush=True)
    drop_topic(cfg)
    drop_tables(spec)
    replication = create_topic(cfg, partitions)
    print(f"  topic {BENCH_TOPIC}: {partitions} partitions, replication factor {replication[0]}, "
          f"min.insync.replicas {replication[1]}", flush=True)  # fmt: skip
    produce_s = produce(cfg, messages)
    time.sleep(5)  # let the brokers' replication and the producer's load settle
    wal_before, before = wal_bytes(), Snapshot.take(cfg)
    run_id = api.trigger(DAG_ID)
    print(f"  triggered {DAG_ID} run {run_id} (load {before.load[0]:.2f})", flush=True)
    run = wait_for_run(api, run_id)
    after = Snapshot.take(cfg)
    tis = task_instances(api, run_id)
    drains = [t for t in tis if t["task_id"] == "drain"]
    step = Step(
        partitions, messages, replication, produce_s, run, tis,
        workers={t["map_index"]: worker_of(cfg, t) for t in drains},
        results={t["map_index"]: drain_result(api, run_id, t["map_index"]) for t in drains if t["state"] == "success"},
        cpu=cpu_between(before, after), load_before=before.load, load_after=after.load,
        wal=wal_bytes() - wal_before,
    )  # fmt: skip
    verify(cfg, spec, step)
    print_step(step)
    return step


# ---------------------------------------------------------------- the report


def _short(ti: dict) -> str:
    return f"{ti['task_id']}[{ti['map_index']}]" if ti["map_index"] >= 0 else ti["task_id"]


def print_step(step: Step) -> None:
    run_start = _epoch(step.run["start_date"])
    print(f"  run {step.run['state']} in {step.wall:.1f}s (queued {step.run['queued_at']}, "
          f"started +{run_start - _epoch(step.run['queued_at']):.1f}s)")  # fmt: skip
    print(
        "  task              worker     host/pid           queued   start     end   took  (s from run start)"
    )
    for ti in sorted(
        step.tis, key=lambda t: (_epoch(t["start_date"]) if t["start_date"] else 0, t["map_index"])
    ):
        worker = step.workers.get(ti["map_index"], "") if ti["task_id"] == "drain" else ""
        # A task that never ran (upstream failed) has no times: shown as nan.
        queued, start, end = (
            _epoch(ti[k]) - run_start if ti.get(k) else float("nan")
            for k in ("queued_when", "start_date", "end_date")
        )
        print(f"  {_short(ti):<17} {worker:<10} {ti['hostname'] or '?'}/{ti['pid'] or '?':<8} "
              f"{queued:7.1f} {start:7.1f} {end:7.1f} {ti['duration'] or 0:6.1f}  try {ti['try_number']} {ti['state']}")  # fmt: skip
    for index, result in sorted(step.results.items()):
        t = result["timings"]
        print(f"  drain[{index}] p{result['partition']}: {result['read']:,} msgs in {result['seconds']:.1f}s "
              f"({result['rate']:,.0f} msg/s); kafka {t['kafka']:.1f}s, decode {t['decode']:.1f}s, "
              f"postgres {t['postgres']:.1f}s, clickhouse {t['clickhouse']:.1f}s, commit {t['commit']:.1f}s")  # fmt: skip
    cpu = step.cpu
    print(f"  PostgreSQL WAL in the run: {step.wal / 2**20:.0f} MiB, {step.wal / step.messages:,.0f} bytes "
          "per message (the whole server: Airflow's metadata database included)")  # fmt: skip
    print("  CPU-s in the run: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items()))
    print(f"  load average before {'/'.join(f'{v:.2f}' for v in step.load_before)}, "
          f"after {'/'.join(f'{v:.2f}' for v in step.load_after)} (1/5/15 min)")  # fmt: skip
    for check, ok in step.checks.items():
        print(f"  {'OK ' if ok else 'BAD'} {check}")


def print_table(steps: list[Step], idle: dict[str, float]) -> None:
    cores = os.cpu_count() or 1
    print("\n=== scaling on the distributed profile (measured; 2 Celery workers, 3 brokers, RF 3) ===")
    head = (f"{'partitions':>10} | {'msg/s':>7} | {'wall':>6} | {'to 1st drain':>12} | {'drains':>6} | "
            f"{'us CPU/msg: data path = workers + PG + CH + Kafka; +Airflow':<60} | {'others':>6} | "
            f"{'load 1m':>11} | workers used")  # fmt: skip
    print(head)
    print("-" * len(head))
    for s in steps:
        c = {g: s.cpu[g] / s.messages * 1e6 for g in s.cpu}
        breakdown = (f"{s.per_message_us(DATA_PATH):5.1f} = {c['workers']:.1f} + {c['postgres']:.1f} + "
                     f"{c['clickhouse']:.1f} + {c['kafka']:.1f}; +{c['airflow']:.1f}")  # fmt: skip
        used = sorted(set(s.workers.values()))
        spread = ", ".join(f"{w} x{list(s.workers.values()).count(w)}" for w in used)
        print(f"{s.partitions:>10} | {s.rate:>7,.0f} | {s.wall:>5.1f}s | {s.first_drain_after:>11.1f}s | "
              f"{s.drain_span:>5.1f}s | {breakdown:<60} | {s.cpu['others'] / max(s.wall, 1e-9):>5.2f}c | "
              f"{s.load_before[0]:>4.2f}->{s.load_after[0]:<5.2f} | {spread}")  # fmt: skip
    print(f"msg/s: messages / the DAG run's wall time (queued -> end); 'to 1st drain': run start -> first "
          f"drain running (plan included); 'drains': first drain start -> last drain end; CPU: all of each "
          f"component's CPU during the run, task start-ups and idle work included, per message; 'others': "
          f"CPU the rest of the machine used meanwhile, in cores of {cores}; load: 1-min load average "
          f"before -> after the run.")  # fmt: skip
    print("Idle, before the first step (cores): " + ", ".join(f"{g} {v:.3f}" for g, v in idle.items()))
    print(f"This machine has {cores} cores, shared with other work: more partitions and workers here add "
          "task starts and contention (overhead), not speed-up. The projection below is where more machines "
          "would take it.")  # fmt: skip
    print_projection(steps, idle)


def print_projection(steps: list[Step], idle: dict[str, float]) -> None:
    best = min(steps, key=lambda s: s.per_message_us(DATA_PATH))
    gross, net = best.per_message_us(DATA_PATH), best.per_message_us(DATA_PATH, idle)
    pg_us = best.per_message_us(("postgres",), idle)
    print(f"\n=== projection: ESTIMATE, NOT MEASURED: from C = {gross:.1f} us of data-path CPU per message "
          f"(the lowest above, {best.partitions} partitions; {net:.1f} us without the idle baseline) ===")  # fmt: skip
    print("N machines of K cores would reach about N * K / C * 1e6 msg/s, if CPU were the only limit:")
    for cores in (2, 8):
        print(
            "  "
            + "; ".join(f"{n} x {cores} cores ~{n * cores / gross * 1e6:,.0f} msg/s" for n in (1, 2, 4, 8))
        )
    serial = best.per_message_us(("workers", "postgres", "clickhouse"), idle)
    wal = best.wal / best.messages  # bytes per message = MB/s per million msg/s
    print("What would limit it first (estimates too):")
    print(f"  - Kafka partitions: a drain is one Python process per partition, writing each batch to PostgreSQL, "
          f"then ClickHouse, then committing, one after the other: ~{serial:.1f} us per message of drain, "
          f"PostgreSQL and ClickHouse CPU in series (idle removed) bound a partition near "
          f"{1e6 / serial:,.0f} msg/s, so P partitions cap a run near P times that, whatever the machines.")  # fmt: skip
    print(f"  - PostgreSQL, one primary: ~{pg_us:.1f} us of its CPU per message (idle removed), so a K-core "
          f"primary saturates near K / {pg_us:.1f} us (8 cores: ~{8 / pg_us * 1e6:,.0f} msg/s), and it must "
          f"write ~{wal:,.0f} bytes of WAL per message ({wal:,.0f} MB/s per million msg/s): more machines "
          "add no primary. ClickHouse here is one server too (it scales by sharding); Kafka scales by brokers "
          "and partitions.")  # fmt: skip
    print(
        "  - A run's fixed cost (plan, task starts, publish: 'to 1st drain' and the gaps) is per run, not per "
        "message: bigger backlogs amortise it, more machines do not shorten it."
    )


def _partition_counts(text: str) -> list[int]:
    counts = [int(v) for v in re.split(r"[,\s]+", text.strip()) if v]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected partition counts like 3,6,12, got {text!r}")
    return counts


def bench_spec(api):
    """The benchmark topic's registry entry, and its DAG parsed by Airflow."""
    from kafka_elt.ingest.registry import RegistryError, get_topic

    try:
        spec = get_topic(BENCH_TOPIC)
    except RegistryError as exc:
        raise BenchError(
            f"{exc}. Run this through `make bench-scaling`, which writes the registry with the "
            "benchmark topic and sets KAFKA_ELT_TOPICS_FILE."
        ) from exc
    try:
        api.wait_for_dag(DAG_ID, timeout=120)
    except Exception as exc:
        raise BenchError(
            f"Airflow has no DAG {DAG_ID}: the distributed profile was started without the benchmark "
            "registry. Stop it (the Makefile's DIST_ENV + `python -m kafka_elt.stack down`) and run "
            f"`make bench-scaling` again ({exc})"
        ) from exc
    return spec


def run(args) -> int:
    from kafka_elt.stack.airflow import AirflowApi

    cfg = StackConfig.load()
    if not cfg.distributed:
        raise BenchError(
            "needs the distributed profile: run `make bench-scaling` (it sets STACK_PROFILE and the rest)"
        )
    os.environ.update(cfg.environment())  # AIRFLOW_CONN_*: the connections the DAG's tasks use
    api = AirflowApi(cfg)
    spec = bench_spec(api)
    print(f"bench: Kafka {cfg.kafka_bootstrap}, Airflow {cfg.airflow_url}, DAG {DAG_ID}, "
          f"partitions {args.partitions}, {args.messages:,} messages each, {os.cpu_count()} cores")  # fmt: skip
    paused = {dag_id: set_paused(api, dag_id, True) for dag_id in PAUSED_WHILE_RUNNING}
    paused[DAG_ID] = set_paused(api, DAG_ID, False)
    steps = []
    try:
        idle = idle_cores(cfg, args.idle_seconds)
        print("idle baseline (cores): " + ", ".join(f"{g} {v:.3f}" for g, v in idle.items()), flush=True)
        for count in args.partitions:
            steps.append(run_step(cfg, api, spec, count, args.messages))
            if not steps[-1].ok:
                print(f"BAD at {count} partitions: stopping here (the checks above say what failed)")
                break
    finally:
        for dag_id, was in paused.items():
            set_paused(api, dag_id, was)
        if not args.keep:
            drop_topic(cfg)
            drop_tables(spec)
    if any(s.ok for s in steps):
        print_table([s for s in steps if s.ok], idle)
    bad = [f"{s.partitions} partitions: {check}" for s in steps for check, ok in s.checks.items() if not ok]
    for line in bad:
        print(f"BAD {line}")
    print("checks: " + ("OK" if not bad else f"BAD ({len(bad)} failed)"))
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=_partition_counts, default=[3, 6, 12],
                        help="partition counts, one step each (default 3,6,12)")  # fmt: skip
    parser.add_argument("--messages", type=int, default=300_000, help="messages per step (default 300,000)")
    parser.add_argument("--idle-seconds", type=float, default=15.0,
                        help="window measuring what the stack costs doing nothing (default 15)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the last step's topic and raw tables")
    parser.add_argument("--write-registry", type=Path, metavar="PATH",
                        help="only write include/topics.yaml + the benchmark topic to PATH (the Makefile does)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.write_registry:
        write_registry(args.write_registry)
        return 0
    try:
        return run(args)
    except BenchError as exc:
        print(f"BAD {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
