"""What the running stack costs when nothing arrives: CPU per service and DAG runs started.

    .venv/bin/python bench/idle.py                 # 600 s (make bench-idle)
    .venv/bin/python bench/idle.py --seconds 120

Produce nothing while it runs. It samples, at the start and the end of the window, the
CPU time (user + system, including reaped children) of every service the local stack
started (pid files under .stack/run/, with all their descendants: PostgreSQL's backends,
task processes, dbt), and the machine's /proc/stat, then prints
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

from stack_cpu import machine_busy_seconds, stack_cpu_seconds  # bench/, beside this script

from kafka_elt.stack.config import StackConfig


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
    before, busy0, t0 = stack_cpu_seconds(cfg), machine_busy_seconds(), time.monotonic()
    load_before = os.getloadavg()
    print(f"idle: measuring for {args.seconds:.0f}s; produce nothing meanwhile", flush=True)
    deadline = t0 + args.seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(60.0, left))
        print(f"idle: {time.monotonic() - t0:5.0f}s of {args.seconds:.0f}s", flush=True)
    after, busy1, elapsed = stack_cpu_seconds(cfg), machine_busy_seconds(), time.monotonic() - t0
    cores = os.cpu_count() or 1

    print(f"\nidle window {elapsed:.0f}s; CPU per service, as % of one core:")
    stack_total = 0.0
    for name in before:
        used = max(after.get(name, 0.0) - before[name], 0.0)
        stack_total += used
        print(f"  {name:24} {100 * used / elapsed:6.2f} %")
    machine = 100 * (busy1 - busy0) / elapsed
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
