"""Kafka Connect side by side: Debezium's JDBC sink against this project's drain + dbt.

    make bench-connect                                  # 1,000,000 messages, 3 partitions
    make bench-connect ARGS="--messages 100000"         # or: .venv/bin/python bench/connect_bench.py --help

The anchor this project replaces is a Kafka Connect JDBC sink that upserted candle
messages into PostgreSQL. On the same generated messages, one after the other:

1. Produces N candles with the project's producer code (``kafka_elt.producers``: the
   random-walk candles, each re-sent 1-4 times as it updates, so that upsert matters)
   into a private topic. All of them as Kafka Connect JsonConverter envelopes: the
   Connect sink needs the schema (bare payloads, which the project also ingests, would
   need a schema registry), so this benchmark generates envelopes only. Each code is
   pinned to one partition (as keying by code does), spread evenly over the partitions.
2. (a) Kafka Connect standalone (``connect-runtime`` at the broker's version) with
   Debezium's JDBC sink 3.5.0.Final upserting into a PostgreSQL table keyed by
   (code, "timestamp"), ``use.reduction.buffer=true``, batches of 5,000, one task per
   partition. Timed from the worker's start until the connector's consumer group has
   committed every offset and the table holds every distinct candle.
3. (b) This project: ``kafka_elt.ingest.drain.drain_partition`` into the raw tables of
   both engines, one process per partition (as ``bench/ingest_bench.py`` runs it), then
   the project's ``dbt build`` of ``market_candle`` (with its staging view, partition
   heads and tests) on PostgreSQL, then on ClickHouse. Timed to the upserted mart
   holding every candle.
4. Checks that Connect's table, both marts and the producer's last message per candle
   agree on every (code, timestamp) and its prices, and prints one table.

CPU is counted per path: the pipeline's own processes (the Connect JVM; the drain
processes; dbt), including their children, plus the stack services each path uses
(PostgreSQL and Kafka for Connect; PostgreSQL, ClickHouse and Kafka for the drain, which
writes both engines; the engine being built for dbt), from ``bench/stack_cpu.py``.

Everything runs against the local stack's settings (StackConfig: .env.example, .env, the
shell, .stack/secrets.env), in private schemas and databases that are dropped at the end
with the topic and consumer groups, unless --keep. Connect's jars are fetched from Maven
Central on first use (maven/connect/pom.xml) into <STACK_DIR>/connect/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from phases import (  # bench/, beside this script
    BenchError,
    Phase,
    Snapshot,
    dbt_parse,
    run_dbt,
    run_drains,
    stack_ch,
    stack_pg,
)

from kafka_elt.stack.config import StackConfig

DEBEZIUM_CONNECTOR = "io.debezium.connector.jdbc.JdbcSinkConnector"
PRICE_COLUMNS = ("opening_price", "high_price", "low_price", "trade_price", "candle_acc_trade_volume")
# The JVM options of Kafka's bin/connect-standalone.sh and kafka-run-class.sh (4.x).
CONNECT_JVM_OPTS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]
LOG4J2 = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


# ---------------------------------------------------------------- Connect's jars


def broker_version(cfg: StackConfig) -> str:
    """The Kafka version maven/kafka/pom.xml fetches the broker at."""
    found = re.search(
        r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>",
        (cfg.root / "maven" / "kafka" / "pom.xml").read_text(),
    )
    if not found:
        raise BenchError("maven/kafka/pom.xml has no <kafka.version> property")
    return found.group(1)


def install_connect(cfg: StackConfig) -> tuple[Path, Path]:
    """Fetch the worker's and the plugin's jars unless the pom and the broker's version
    are unchanged since; returns (worker classpath folder, plugin.path folder)."""
    pom = cfg.root / "maven" / "connect" / "pom.xml"
    home = cfg.state_dir / "connect"
    worker, plugins = home / "worker", home / "plugins"
    plugin = plugins / "debezium-jdbc"
    version = broker_version(cfg)
    stamp, wanted = home / ".pom", f"kafka.version={version}\n{pom.read_text()}"
    if not (stamp.exists() and stamp.read_text() == wanted):
        if shutil.which("mvn") is None:
            raise BenchError("mvn not found: run `make install` (it installs maven with apt-get)")
        for folder, profile, extra in (
            (worker, "worker", [f"-Dkafka.version={version}"]),
            (plugin, "debezium-jdbc", []),
        ):
            print(f"connect: fetching the {profile} jars from Maven Central into {folder} ...", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            subprocess.run(
                ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(pom), "-P", profile, "dependency:copy-dependencies",
                 f"-DoutputDirectory={folder}", *extra],
                check=True,
            )  # fmt: skip
        stamp.write_text(wanted)
    if not (worker / f"connect-runtime-{version}.jar").exists():
        raise BenchError(f"{worker} has no connect-runtime-{version}.jar; delete {stamp} to fetch again")
    clashing = [p.name for p in plugin.glob("jackson-*.jar") if p.name.startswith(("jackson-core-", "jackson-databind-", "jackson-annotations-"))]  # fmt: skip
    if clashing:
        raise BenchError(
            f"{plugin} holds Jackson jars the worker also has ({', '.join(clashing)}): the task would fail "
            "with 'BlackbirdModule not a subtype'; check the exclusions in maven/connect/pom.xml"
        )
    return worker, plugins


# ---------------------------------------------------------------- measuring


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a running process."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _proc_peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- producing


class _PinnedPartitions:
    """The project's producer with each candle code pinned to one partition.

    Keying by code keeps a candle's re-sends in order in one partition; librdkafka's
    hash puts the 8 codes 4/2/2 on 3 partitions, so the codes are spread round-robin
    instead (3/3/2): otherwise one partition would set both pipelines' pace."""

    def __init__(self, producer, partition_of: dict[bytes, int]) -> None:
        self._producer, self._partition_of = producer, partition_of
        self.poll, self.flush = producer.poll, producer.flush

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self._producer.produce(topic, value, key, partition=self._partition_of[key])


def produce_candles(bootstrap: str, topic: str, count: int, partitions: int) -> dict[tuple[str, int], tuple]:
    """Produce ``count`` candle envelopes; return the last message's prices per candle."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from kafka_elt.producers.candles import CODES, CandleSimulator, envelope_json
    from kafka_elt.producers.kafka import DeliveryTracker, make_producer, produce_all

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(30)
    expected: dict[tuple[str, int], tuple] = {}

    def messages():
        for candle in itertools.islice(CandleSimulator(seed=7), count):
            expected[(candle.code, candle.timestamp)] = tuple(getattr(candle, c) for c in PRICE_COLUMNS)
            yield candle.code.encode(), envelope_json(candle).encode()

    tracker = DeliveryTracker()
    producer = _PinnedPartitions(
        make_producer(bootstrap, tracker), {code.encode(): i % partitions for i, code in enumerate(CODES)}
    )
    produce_all(producer, tracker, topic, messages(), label="bench-connect produce", progress_every_s=5.0)
    return expected


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-connect-watermarks"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


# ---------------------------------------------------------------- PostgreSQL and ClickHouse


class Databases:
    """Private schemas of one run: ``<prefix>_raw`` (drain), ``_sink`` (Connect), ``_mart`` (dbt)."""

    def __init__(self, cfg: StackConfig, prefix: str) -> None:
        self.cfg = cfg
        self.raw, self.sink, self.mart = f"{prefix}_raw", f"{prefix}_sink", f"{prefix}_mart"
        self.sink_table = f"{self.sink}.market_candle"

    def pg(self, role: str):
        """A psycopg connection as the loader (raw, sink) or dbt (mart) role, autocommit."""
        return stack_pg(self.cfg, role)

    def ch(self):
        return stack_ch()

    def prepare(self, spec) -> None:
        from kafka_elt.ingest.connections import Connections
        from kafka_elt.ingest.ddl import apply_ddl

        self.drop()
        apply_ddl(spec, Connections())
        with self.pg("loader") as conn:
            dbt = self.cfg["DBT_USER"]
            conn.execute(f"grant usage on schema {self.raw} to {dbt}")
            conn.execute(f"grant select on all tables in schema {self.raw} to {dbt}")
            conn.execute(f"create schema {self.sink}")
            # The table Debezium's schema evolution would create (its own DDL, from its
            # log), made beforehand as the old sink's table existed: otherwise the three
            # tasks race to create it and all but one fall back to altering it.
            prices = "".join(
                f"{c} double precision not null, " for c in (*PRICE_COLUMNS, "candle_acc_trade_price")
            )
            conn.execute(
                f'create table {self.sink_table} (code text not null, "timestamp" bigint not null, '
                f"type text not null, {prices}stream_type text not null, "
                'primary key (code, "timestamp"))'
            )

    def sink_rows(self) -> int:
        with self.pg("loader") as conn:
            return conn.execute(f"select count(*) from {self.sink_table}").fetchone()[0]

    def drop(self) -> None:
        with self.pg("loader") as conn:
            conn.execute(f"drop schema if exists {self.raw} cascade")
            conn.execute(f"drop schema if exists {self.sink} cascade")
        with self.pg("dbt") as conn:
            conn.execute(f"drop schema if exists {self.mart} cascade")
        ch = self.ch()
        ch.command(f"drop database if exists {self.raw}")
        ch.command(f"drop database if exists {self.mart}")
        ch.close()

    # The rows to compare, as {(code, timestamp): (prices...)} in floats: Connect stores
    # doubles, the marts decimals made from the double's shortest text (staging's
    # double_to_decimal), whose text converts back to the same double.
    def connect_rows(self) -> tuple[int, dict]:
        with self.pg("loader") as conn:
            rows = conn.execute(
                f'select code, "timestamp", {", ".join(PRICE_COLUMNS)} from {self.sink_table}'
            ).fetchall()
        return len(rows), {(r[0], r[1]): tuple(float(v) for v in r[2:]) for r in rows}

    def pg_mart_rows(self) -> tuple[int, dict]:
        columns = ", ".join(f"{c}::text" for c in PRICE_COLUMNS)
        with self.pg("dbt") as conn:
            rows = conn.execute(
                f'select code, "timestamp", {columns} from {self.mart}.market_candle'
            ).fetchall()
        return len(rows), {(r[0], r[1]): tuple(float(v) for v in r[2:]) for r in rows}

    def ch_mart_rows(self) -> tuple[int, dict]:
        ch = self.ch()
        columns = ", ".join(f"toString({c})" for c in PRICE_COLUMNS)
        # No FINAL: dbt's delete+insert leaves one row per key, which is what users read.
        rows = ch.query(f"select code, `timestamp`, {columns} from {self.mart}.market_candle").result_rows
        ch.close()
        return len(rows), {(r[0], int(r[1])): tuple(float(v) for v in r[2:]) for r in rows}


# ---------------------------------------------------------------- (a) Kafka Connect


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _write_properties(path: Path, values: dict[str, object]) -> None:
    path.touch(mode=0o600)  # the connector's holds the loader's password
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def _task_states(rest: str, name: str) -> tuple[str, list[tuple[str, str]]]:
    """(connector state, [(task state, trace)]) from the worker's REST API, or ('', [])."""
    try:
        with urllib.request.urlopen(f"{rest}/connectors/{name}/status", timeout=2) as response:
            status = json.load(response)
    except OSError:
        return "", []
    return status["connector"]["state"], [(t["state"], t.get("trace", "")) for t in status.get("tasks", [])]


def _connect_command(cfg: StackConfig, args, dbs: Databases, topic: str, run_dir: Path, worker: Path,
                     plugins: Path, rest: str) -> list[str]:  # fmt: skip
    """Write the worker's and the connector's config into run_dir; the worker's command line."""
    _write_properties(run_dir / "worker.properties", {
        "bootstrap.servers": cfg.kafka_bootstrap,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
        "offset.storage.file.filename": run_dir / "standalone.offsets",
        # Sink offsets are committed every offset.flush.interval.ms (default 60 s):
        # 1 s, or the wait for the commit would be measured as sink time.
        "offset.flush.interval.ms": 1000,
        "plugin.path": plugins,
        # The fastest start Connect offers (KIP-898): plugins found through their
        # ServiceLoader manifests, which Kafka's and Debezium's jars carry, not by scanning
        # every class of every jar (only_scan took ~30 s of the start here).
        "plugin.discovery": "service_load",
        "listeners": rest,
        # Batches of 5,000 need polls of 5,000; fetch sizes as the drain's consumer has them.
        "consumer.max.poll.records": args.connect_batch_size,
        "consumer.max.partition.fetch.bytes": 8 * 1024 * 1024,
        "consumer.fetch.max.bytes": 32 * 1024 * 1024,
        "consumer.auto.offset.reset": "earliest",
    })  # fmt: skip
    _write_properties(run_dir / "connector.properties", {
        "name": run_dir.name,
        "connector.class": DEBEZIUM_CONNECTOR,
        "tasks.max": args.connect_tasks or args.partitions,
        "topics": topic,
        "connection.url": f"jdbc:postgresql://{cfg.host}:{cfg.port('POSTGRES')}/{cfg['WAREHOUSE_DB']}",
        "connection.username": cfg["LOADER_USER"],
        "connection.password": cfg["LOADER_PASSWORD"],
        "insert.mode": "upsert",
        "primary.key.mode": "record_value",
        "primary.key.fields": "code,timestamp",
        "schema.evolution": "none",  # the table exists (Databases.prepare)
        "collection.name.format": dbs.sink_table,
        # A batch holding one candle twice would fail the upsert ("ON CONFLICT DO UPDATE
        # command cannot affect row a second time"); the buffer keeps its last record.
        "use.reduction.buffer": "true",
        "batch.size": args.connect_batch_size,
    })  # fmt: skip
    (run_dir / "log4j2.properties").write_text(LOG4J2)
    return ["java", "-Xms256M", f"-Xmx{args.connect_heap}", *CONNECT_JVM_OPTS,
            f"-Dlog4j2.configurationFile={run_dir / 'log4j2.properties'}", "-cp", f"{worker}/*",
            "org.apache.kafka.connect.cli.ConnectStandalone", str(run_dir / "worker.properties"),
            str(run_dir / "connector.properties")]  # fmt: skip


class _SinkWatch:
    """Follows a running connector: its consumer group's committed offsets (read as a
    non-member of the group) and, every 2 s, its tasks' state on the worker's REST API."""

    def __init__(
        self, cfg: StackConfig, name: str, rest: str, topic: str, ends: dict[int, int], log_path: Path
    ):
        from confluent_kafka import Consumer, TopicPartition

        self.name, self.rest, self.ends, self.log_path = name, rest, ends, log_path
        self.tps = [TopicPartition(topic, p) for p in sorted(ends)]
        self.consumer = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": f"connect-{name}",
                                  "enable.auto.commit": False})  # fmt: skip
        self.last_status = 0.0
        self.tasks_running_at: float | None = None

    def check_tasks(self) -> None:
        if time.monotonic() - self.last_status < 2:  # the REST API costs the worker a little CPU
            return
        self.last_status = time.monotonic()
        state, tasks = _task_states(self.rest, self.name)
        failed = [trace for task_state, trace in tasks if task_state == "FAILED"]
        if failed or state == "FAILED":
            raise BenchError(
                f"connector {self.name} failed: {(failed or [''])[0][:3000]}\nlog: {self.log_path}"
            )
        if self.tasks_running_at is None and tasks and all(s == "RUNNING" for s, _ in tasks):
            self.tasks_running_at = self.last_status

    def committed(self) -> tuple[int, bool]:
        """(offsets committed in all, whether every partition is committed to its end)."""
        committed = {tp.partition: tp.offset for tp in self.consumer.committed(self.tps, timeout=10)}
        return sum(max(committed[p], 0) for p in self.ends), all(
            committed[p] >= e for p, e in self.ends.items()
        )


def run_connect(cfg: StackConfig, args, dbs: Databases, topic: str, ends: dict[int, int], candles: int,
                run_dir: Path, worker: Path, plugins: Path) -> Phase:  # fmt: skip
    rest = f"http://{cfg.host}:{_free_port(cfg.host)}"
    command = _connect_command(cfg, args, dbs, topic, run_dir, worker, plugins, rest)
    log_path = run_dir / "connect.log"
    watch = _SinkWatch(cfg, run_dir.name, rest, topic, ends, log_path)
    total = sum(ends.values())
    print(f"\n(a) Kafka Connect standalone + Debezium JDBC sink, {args.connect_tasks or args.partitions} tasks, "
          f"batches of {args.connect_batch_size:,}, heap {args.connect_heap}; log {log_path}", flush=True)  # fmt: skip
    before = Snapshot.take(cfg)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=run_dir, start_new_session=True)  # fmt: skip
    last_print = before.at
    try:
        while True:
            if process.poll() is not None:
                raise BenchError(f"the Connect worker exited ({process.returncode}); {log_path}:\n{_tail(log_path)}")  # fmt: skip
            watch.check_tasks()
            done, at_end = watch.committed()
            if at_end and dbs.sink_rows() >= candles:
                break
            now = time.monotonic()
            if now - last_print >= 5:
                last_print = now
                print(
                    f"  connect: {done:,} of {total:,} offsets committed, {now - before.at:.0f}s", flush=True
                )
            if now - before.at > args.timeout:
                raise BenchError(f"Connect did not finish within {args.timeout}s ({done:,} of {total:,}); {log_path}")  # fmt: skip
            time.sleep(0.5)
        own = {"connect worker": _proc_cpu_seconds(process.pid)}
        peak = _proc_peak_rss_mib(process.pid)
        after = Snapshot.take(cfg)
    finally:
        watch.consumer.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    startup = (watch.tasks_running_at - before.at) if watch.tasks_running_at else float("nan")
    phase = Phase.measured("Kafka Connect + Debezium JDBC sink, upsert (PostgreSQL)", before, after, own,
                           ("postgres", "kafka"), peak, note=f"worker start to tasks running {startup:.1f}s")  # fmt: skip
    print(f"  connect: done in {phase.seconds:.1f}s ({total / phase.seconds:,.0f} msg/s)", flush=True)
    return phase


# ---------------------------------------------------------------- (b) this project


def run_drain(cfg: StackConfig, spec, group: str, run_id: str) -> Phase:
    print(f"\n(b) drain, batches of {spec.batch_size:,}", flush=True)
    drained = run_drains(cfg, [spec], group, run_id, "drain into raw tables (PostgreSQL + ClickHouse)")
    if drained.dead_lettered:
        raise BenchError(f"the drain dead-lettered {drained.dead_lettered} of {drained.read} messages; "
                         f"see {spec.qualified_dead_letter_table}")  # fmt: skip
    return drained.phase


def run_dbt_candles(cfg: StackConfig, target: str, env: dict[str, str], state: Path) -> Phase:
    """The project's dbt build of market_candle and what it depends on, with the flags
    dbt_marts uses. Only tests whose every parent is built: the dashboard marts'
    relationships tests to market_candle would otherwise run against marts this
    benchmark does not build."""
    dbt_parse(env, target, state)
    print(f"\n(b) dbt build --target {target} --select +market_candle", flush=True)
    return run_dbt(cfg, target, env, state, ["+market_candle"], extra=["--indirect-selection", "cautious"])


# ---------------------------------------------------------------- report


def _compare(name: str, rows: tuple[int, dict], reference: dict) -> tuple[str, bool]:
    count, got = rows
    missing = len(reference.keys() - got.keys())
    extra = len(got.keys() - reference.keys())
    differ = sum(1 for key, values in got.items() if key in reference and values != reference[key])
    ok = count == len(got) == len(reference) and not (missing or extra or differ)
    return (f"{name:34} {count:>9,} rows, {len(got):,} keys; missing {missing}, extra {extra}, "
            f"prices differ {differ}  {'OK' if ok else 'MISMATCH'}"), ok  # fmt: skip


def print_report(args, candles: int, phases: dict[str, Phase], checks: list[str]) -> None:
    n = args.messages
    cores = os.cpu_count() or 1
    connect = phases["connect"]
    rows = [
        ("Kafka Connect + Debezium JDBC upsert, PostgreSQL", connect),
        ("drain into raw tables, PostgreSQL + ClickHouse", phases["drain"]),
        ("drain + dbt -> upserted mart, PostgreSQL", phases["mart_pg"]),
        ("drain + dbt -> upserted mart, ClickHouse", phases["mart_ch"]),
    ]
    print(f"\n=== Kafka Connect vs this project: {n:,} candle messages ({candles:,} candles), "
          f"{args.partitions} partitions, {cores} cores ===")  # fmt: skip
    print(f"{'pipeline':50} {'msg/s':>8} {'wall s':>7} {'CPU us/msg':>10} {'peak RSS MiB':>12} "
          f"{'vs Connect':>10}  {'load 1m before/after':>20}")  # fmt: skip
    for label, phase in rows:
        speedup = connect.seconds / phase.seconds
        print(f"{label:50} {n / phase.seconds:8,.0f} {phase.seconds:7.1f} {phase.cpu_total / n * 1e6:10.1f} "
              f"{phase.peak_rss_mib:12,.0f} {speedup:9.2f}x  {phase.load1[0]:9.2f} / {phase.load1[1]:.2f}")  # fmt: skip
    print("\nCPU per message by component (us):")
    for label, phase in rows:
        parts = ", ".join(f"{name} {seconds / n * 1e6:.1f}" for name, seconds in phase.cpu.items())
        others = max(phase.machine_busy - phase.cpu_total, 0.0)
        print(f"  {label:50} {parts}; other processes on the machine {others:.0f} CPU-s in the window")
    print("notes: " + "; ".join(f"{p.label}: {p.note}" for p in phases.values() if p.note))
    mart_pg = phases["mart_pg"]
    ratio = connect.seconds / mart_pg.seconds
    print(f"\nbacklog to upserted PostgreSQL mart: {ratio:.2f}x Kafka Connect's upserting sink "
          f"(target >= 2x: {'met' if ratio >= 2 else 'NOT met'})")  # fmt: skip
    print("\nchecks (against the producer's last message per candle; latest message wins):")
    for line in checks:
        print(f"  {line}")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--connect-tasks", type=int, default=None, help="default: one per partition")
    parser.add_argument("--connect-batch-size", type=int, default=5_000)
    parser.add_argument("--connect-heap", default="2G", help="-Xmx of the worker (connect-standalone.sh: 2G)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per step before giving up")
    parser.add_argument(
        "--keep", action="store_true", help="keep the topic, schemas, groups and Connect's run folder"
    )
    args = parser.parse_args(argv)

    cfg = StackConfig.load()
    env = {**os.environ, **cfg.environment()}
    os.environ.update(env)
    worker, plugins = install_connect(cfg)

    from confluent_kafka.admin import AdminClient

    from kafka_elt.ingest.registry import get_topic

    tag = f"{int(time.time())}_{uuid.uuid4().hex[:6]}"
    topic = f"bench_connect_{tag}"
    dbs = Databases(cfg, f"bench_connect_{tag}")
    spec = get_topic("market_candle").with_overrides(topic=topic, raw_schema=dbs.raw, table="market_candle",
                                                    max_seconds=args.timeout)  # fmt: skip
    run_dir = cfg.state_dir / "connect" / "runs" / f"bench-connect-{tag.replace('_', '-')}"
    run_dir.mkdir(parents=True)
    dbt_state = run_dir / "dbt"
    dbt_env = {
        **env,
        "DBT_RAW_SCHEMA": dbs.raw,
        "DBT_POSTGRES_SCHEMA": dbs.mart,
        "DBT_CLICKHOUSE_SCHEMA": dbs.mart,
    }
    drain_group = f"bench-connect-drain-{tag}"
    print(f"bench-connect: Kafka {cfg.kafka_bootstrap}, PostgreSQL {cfg.host}:{cfg.port('POSTGRES')}, ClickHouse "
          f"{cfg.host}:{cfg.port('CLICKHOUSE_HTTP')}; topic {topic} ({args.partitions} partitions); "
          f"schemas {dbs.raw}, {dbs.sink}, {dbs.mart}", flush=True)  # fmt: skip
    admin = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap})
    ok = False
    try:
        dbs.prepare(spec)
        expected = produce_candles(cfg.kafka_bootstrap, topic, args.messages, args.partitions)
        ends = end_offsets(cfg.kafka_bootstrap, topic, args.partitions)
        print(f"bench-connect: {sum(ends.values()):,} messages, {len(expected):,} candles (code, timestamp); "
              f"per partition {', '.join(f'p{p} {n:,}' for p, n in sorted(ends.items()))}", flush=True)  # fmt: skip
        time.sleep(5)  # let the broker settle after producing before either pipeline starts

        phases = {
            "connect": run_connect(cfg, args, dbs, topic, ends, len(expected), run_dir, worker, plugins)
        }
        time.sleep(5)
        phases["drain"] = run_drain(cfg, spec, drain_group, f"bench_connect__{tag}")
        phases["dbt_pg"] = run_dbt_candles(cfg, "postgres", dbt_env, dbt_state)
        phases["dbt_ch"] = run_dbt_candles(cfg, "clickhouse", dbt_env, dbt_state)
        phases["mart_pg"] = phases["drain"].then(phases["dbt_pg"], "drain + dbt (postgres)")
        phases["mart_ch"] = phases["drain"].then(phases["dbt_ch"], "drain + dbt (clickhouse)")

        checks, results = [], []
        for name, rows in (("Kafka Connect's table", dbs.connect_rows()),
                           ("market_candle mart, PostgreSQL", dbs.pg_mart_rows()),
                           ("market_candle mart, ClickHouse", dbs.ch_mart_rows())):  # fmt: skip
            line, good = _compare(name, rows, expected)
            checks.append(line)
            results.append(good)
        checks.append(
            "Each code is pinned to one partition, so a candle's messages are in offset order in one partition:"
            " Connect's last write (offset order; the reduction buffer keeps a batch's last record per key) and"
            " the project's rule (offset order within a partition, Kafka timestamp across partitions) pick the"
            " same message, which the producer recorded as the candle's last. Prices compared as doubles."
        )
        print_report(args, len(expected), phases, checks)
        print(
            f"  dbt alone: PostgreSQL {phases['dbt_pg'].seconds:.1f}s, ClickHouse {phases['dbt_ch'].seconds:.1f}s"
        )
        ok = all(results)
    finally:
        # The connector's file holds the loader's password: never left behind.
        (run_dir / "connector.properties").unlink(missing_ok=True)
        if not args.keep:
            print(
                "\nbench-connect: dropping the run's topic, consumer groups, schemas and run folder",
                flush=True,
            )
            try:
                dbs.drop()
                admin.delete_topics([topic])[topic].result(30)
                groups = [f"connect-bench-connect-{tag.replace('_', '-')}", drain_group]
                for future in admin.delete_consumer_groups(groups).values():
                    try:
                        future.result(30)
                    except Exception as exc:  # a group that never committed does not exist
                        print(f"bench-connect: consumer group not deleted: {exc}", flush=True)
            finally:
                if ok:
                    shutil.rmtree(run_dir, ignore_errors=True)
                else:  # the log says what went wrong
                    print(f"bench-connect: Connect's log kept in {run_dir}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench-connect: ERROR: {exc}", file=sys.stderr)
        sys.exit(1)
