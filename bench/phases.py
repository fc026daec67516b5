"""Timed steps shared by the benchmarks in this folder: the drain as the DAG's mapped
tasks run it, the project's dbt build, and what each step cost (wall time, CPU by
component, peak memory, how busy the machine was).

Run as ``python bench/<script>.py``: this folder is on ``sys.path``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from stack_cpu import machine_busy_seconds, stack_cpu_seconds

from kafka_elt.stack.config import StackConfig


class BenchError(Exception):
    """A benchmark step failed; the message says which and where to look."""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def children_cpu_seconds() -> float:
    """CPU of this process's reaped children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Snapshot:
    at: float
    services: dict[str, float]
    busy: float
    load1: float

    @classmethod
    def take(cls, cfg: StackConfig) -> Snapshot:
        return cls(time.monotonic(), stack_cpu_seconds(cfg), machine_busy_seconds(), os.getloadavg()[0])


@dataclass
class Phase:
    """One timed step: wall time, CPU by component, peak memory of its own processes."""

    label: str
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)  # component -> CPU seconds
    peak_rss_mib: float = 0.0
    machine_busy: float = 0.0  # CPU-s the whole machine spent in the window
    load1: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before, after
    note: str = ""

    @classmethod
    def measured(cls, label: str, before: Snapshot, after: Snapshot, own: dict[str, float],
                 services: tuple[str, ...], peak_rss_mib: float, note: str = "") -> Phase:  # fmt: skip
        cpu = dict(own)
        for name in services:
            cpu[name] = after.services.get(name, 0.0) - before.services.get(name, 0.0)
        return cls(label, after.at - before.at, cpu, peak_rss_mib, after.busy - before.busy,
                   (before.load1, after.load1), note)  # fmt: skip

    def then(self, other: Phase, label: str) -> Phase:
        """This phase followed by another: times and CPU add, memory is the larger peak."""
        cpu = dict(self.cpu)
        for name, seconds in other.cpu.items():
            cpu[name] = cpu.get(name, 0.0) + seconds
        return Phase(label, self.seconds + other.seconds, cpu, max(self.peak_rss_mib, other.peak_rss_mib),
                     self.machine_busy + other.machine_busy, (self.load1[0], other.load1[1]))  # fmt: skip

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    @property
    def others_busy(self) -> float:
        """CPU-s that other processes on the machine used in the window."""
        return max(self.machine_busy - self.cpu_total, 0.0)


# ---------------------------------------------------------------- connections


def stack_pg(cfg: StackConfig, role: str):
    """A psycopg connection to the stack's warehouse as the loader (raw tables) or the
    dbt role (marts), autocommit."""
    import psycopg

    user, password = {"loader": ("LOADER_USER", "LOADER_PASSWORD"), "dbt": ("DBT_USER", "DBT_PASSWORD")}[role]
    return psycopg.connect(host=cfg.host, port=cfg.port("POSTGRES"), dbname=cfg["WAREHOUSE_DB"],
                           user=cfg[user], password=cfg[password], autocommit=True)  # fmt: skip


def stack_ch():
    """A clickhouse_connect client as the pipeline's ClickHouse connection."""
    from kafka_elt.ingest.connections import Connections

    return Connections().clickhouse()


# ---------------------------------------------------------------- the drain


def drain_worker(spec_fields: dict, partition: int, end_offset: int, group_id: str, run_id: str) -> dict:
    """One drain process, like one mapped task instance of an ingestion DAG."""
    import logging

    # What a task process has imported before its task code runs: Airflow and the
    # providers' hooks. Importing them inside the timed drain would measure imports.
    import airflow.providers.apache.kafka.hooks.consume
    import airflow.providers.clickhousedb.hooks.clickhouse
    import airflow.providers.postgres.hooks.postgres  # noqa: F401

    from kafka_elt.ingest.drain import drain_partition
    from kafka_elt.ingest.registry import TopicSpec

    logging.basicConfig(level=logging.INFO, format="  [drain] %(message)s")
    spec = TopicSpec(**spec_fields)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.time()
    result = drain_partition(spec, partition, dag_run_id=run_id, end_offset=end_offset, group_id=group_id)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "result": result.to_dict(),
        "started": started,
        "finished": time.time(),
        "peak_rss_mib": peak_rss_mib(),
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


@dataclass
class Drained:
    phase: Phase
    read: int
    dead_lettered: int
    outcomes: list[dict]

    @property
    def peak_per_drain_mib(self) -> float:
        return max((o["peak_rss_mib"] for o in self.outcomes), default=0.0)


def run_drains(cfg: StackConfig, specs: Sequence, group: str, run_id: str, label: str) -> Drained:
    """Drain every partition of ``specs``' topics to its high watermark, one process per
    partition, all at once (as the ingestion DAGs' mapped tasks run under the
    LocalExecutor). CPU: the drain processes (start-up and imports included) and the
    services they write to."""
    from kafka_elt.ingest.connections import Connections
    from kafka_elt.ingest.consumer import plan_partitions

    jobs = []
    for spec in specs:
        fields = {f: getattr(spec, f) for f in spec.__dataclass_fields__}
        for plan in plan_partitions(spec, Connections(), group_id=group):
            jobs.append((fields, plan.partition, plan.end_offset, plan.lag, spec.topic))
    lag = sum(job[3] for job in jobs)
    print(f"  drain: {lag:,} messages, {len(jobs)} processes (one per partition), into PostgreSQL and ClickHouse",
          flush=True)  # fmt: skip
    before, children_before = Snapshot.take(cfg), children_cpu_seconds()
    # The pool's processes are reaped when it shuts down: their whole CPU is then in
    # RUSAGE_CHILDREN.
    with ProcessPoolExecutor(max_workers=max(len(jobs), 1), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(drain_worker, fields, p, end, group, run_id) for fields, p, end, _, _ in jobs]
        outcomes = [f.result() for f in futures]
    after = Snapshot.take(cfg)
    own = {"drain processes": children_cpu_seconds() - children_before}
    read = sum(o["result"]["read"] for o in outcomes)
    dead = sum(o["result"]["dead_lettered"] for o in outcomes)
    peak = sum(o["peak_rss_mib"] for o in outcomes)  # the processes run at once
    phase = Phase.measured(label, before, after, own, ("postgres", "clickhouse", "kafka"), peak,
                           note=f"peak RSS = sum of {len(outcomes)} drain processes")  # fmt: skip
    print(f"  drain: {read:,} messages ({dead:,} dead-lettered) in {phase.seconds:.1f}s "
          f"({read / max(phase.seconds, 1e-9):,.0f} msg/s)", flush=True)  # fmt: skip
    return Drained(phase, read, dead, outcomes)


def drop_raw_table(connections, spec) -> None:
    """A benchmark topic's raw table in both engines (the shared dead-letter table stays)."""
    pg = connections.postgres()
    with pg.cursor() as cur:
        cur.execute(f"drop table if exists {spec.qualified_table}")
    pg.commit()
    pg.close()
    ch = connections.clickhouse()
    ch.command(f"drop table if exists {spec.qualified_table}")
    ch.close()


# ---------------------------------------------------------------- dbt


def dbt_base(env: dict[str, str], target: str, state: Path) -> list[str]:
    return [env["DBT_EXECUTABLE"], "--project-dir", env["DBT_PROJECT_DIR"], "--profiles-dir", env["DBT_PROFILES_DIR"],
            "--target", target, "--target-path", str(state / target), "--log-path", str(state / "logs" / target)]  # fmt: skip


def dbt_parse(env: dict[str, str], target: str, state: Path) -> None:
    """An untimed ``dbt parse`` into ``state``: Airflow's builds start from partial-parse state."""
    base = dbt_base(env, target, state)
    parse = subprocess.run([base[0], "parse", *base[1:]], env=env, capture_output=True, text=True)
    if parse.returncode:
        raise BenchError(f"dbt parse --target {target} failed:\n{parse.stdout[-3000:]}{parse.stderr[-2000:]}")


def run_dbt(cfg: StackConfig, target: str, env: dict[str, str], state: Path, select: list[str],
            extra: Sequence[str] = (), label: str | None = None, quiet_tests: bool = False) -> Phase:  # fmt: skip
    """The project's ``dbt build`` with the flags dbt_marts uses
    (kafka_elt.transform.build.dbt_command), in the benchmark's own target folder
    (parse it first with ``dbt_parse``). Prints a line per model (and test, unless
    ``quiet_tests``); CPU: dbt's process tree and the engine it builds on."""
    from kafka_elt.transform.build import dbt_command, parse_events

    command = dbt_command(env["DBT_EXECUTABLE"], Path(env["DBT_PROJECT_DIR"]), target, select)
    for flag, value in (("--target-path", state / target), ("--log-path", state / "logs" / target)):
        command[command.index(flag) + 1] = str(value)
    command += list(extra)
    engine = "postgres" if target.startswith("postgres") else "clickhouse"
    shown = (
        ("LogModelResult", "StatsLine") if quiet_tests else ("LogModelResult", "LogTestResult", "StatsLine")
    )
    before = Snapshot.take(cfg)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    errors = []
    assert process.stdout is not None
    for event in parse_events(process.stdout):
        info = event["info"]
        if info.get("name") in shown or info.get("level") == "error":
            print(f"  dbt ({target}): {info.get('msg', '').strip()}", flush=True)
            if info.get("level") == "error":
                errors.append(info.get("msg", ""))
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    after = Snapshot.take(cfg)
    if process.returncode:
        raise BenchError(
            f"dbt build --target {target} failed ({process.returncode}): {' | '.join(errors)[-3000:]}"
        )
    own = {"dbt": usage.ru_utime + usage.ru_stime}
    return Phase.measured(
        label or f"dbt build ({target})", before, after, own, (engine,), usage.ru_maxrss / 1024
    )
