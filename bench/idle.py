"""What the running stack costs when nothing arrives: CPU per service and DAG runs started.

    .venv/bin/python bench/idle.py                 # 600 s (make bench-idle)
    .venv/bin/python bench/idle.py --seconds 120

Produce nothing while it runs. It samples, at the start and the end of the window, the
CPU time (user + system, including reaped children) of every process group the local
stack started (pid files under .stack/run/), and the machine's /proc/stat, then prints
each service's share of one core, the stack's total, how busy the whole machine was
(other work included), and the DAG runs that started during the window (there should
be none: the watchers fire only when messages wait).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime

from kafka_elt.stack.__main__ import all_services
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import _group_pids

TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds of the live members of a process group, with their reaped children."""
    total = 0
    for pid in _group_pids(pgid):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # After the ")": state=0, ..., utime=11, stime=12, cutime=13, cstime=14.
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def stack_cpu(cfg: StackConfig) -> dict[str, float]:
    cpu = {}
    for group in all_services(cfg).values():
        for svc in group:
            pid = svc.pid()
            cpu[svc.name] = group_cpu_seconds(pid) if pid else 0.0
    return cpu


def runs_started(cfg: StackConfig, since: datetime) -> list[tuple[str, str, str]]:
    from kafka_elt.ingest.registry import load_registry
    from kafka_elt.stack.airflow import AirflowApi

    api = AirflowApi(cfg)
    found = []
    for dag_id in [s.dag_id for s in load_registry()] + ["dbt_marts", "dashboard_benchmark"]:
        for run in api.runs(dag_id, limit=50):
            started = run.get("start_date") or run.get("queued_at")
            if started and datetime.fromisoformat(started.replace("Z", "+00:00")) >= since:
                found.append((dag_id, run["run_type"], started))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the idle window")
    args = parser.parse_args(argv)

    cfg = StackConfig.load(create_secrets=False)
    since = datetime.now(UTC)
    before, (busy0, total0), t0 = stack_cpu(cfg), machine_ticks(), time.monotonic()
    load_before = os.getloadavg()
    print(f"idle: measuring for {args.seconds:.0f}s; produce nothing meanwhile", flush=True)
    deadline = t0 + args.seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(60.0, left))
        print(f"idle: {time.monotonic() - t0:5.0f}s of {args.seconds:.0f}s", flush=True)
    after, (busy1, total1), elapsed = stack_cpu(cfg), machine_ticks(), time.monotonic() - t0
    cores = os.cpu_count() or 1

    print(f"\nidle window {elapsed:.0f}s; CPU per service, as % of one core:")
    stack_total = 0.0
    for name in before:
        used = max(after.get(name, 0.0) - before[name], 0.0)
        stack_total += used
        print(f"  {name:24} {100 * used / elapsed:6.2f} %")
    machine = 100 * cores * (busy1 - busy0) / max(total1 - total0, 1)
    print(f"  {'stack, total':24} {100 * stack_total / elapsed:6.2f} %")
    print(
        f"machine: {machine:.1f} % of one core busy in all ({cores} cores; other processes "
        f"{max(machine - 100 * stack_total / elapsed, 0):.1f} %); load average "
        f"{load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )
    runs = runs_started(cfg, since)
    print(f"DAG runs started in the window: {len(runs)}")
    for dag_id, run_type, started in runs:
        print(f"  {dag_id:24} {run_type:16} {started}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
