"""Print how long each DAG file takes to parse in a fresh interpreter (median of 3).

Usage: .venv/bin/python bench/dag_parse_times.py
The dbt DAG must stay under 5 s (Cosmos renders it from dbt's manifest, not `dbt ls`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kafka_elt.stack import dbt
from kafka_elt.stack.config import StackConfig

DAGS = Path(__file__).resolve().parents[1] / "dags"


def main() -> None:
    cfg = StackConfig.load()
    env = {**os.environ, **cfg.environment()}
    dbt.ensure_manifest(cfg)
    baseline = []
    for _ in range(3):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import airflow.sdk"], check=True, env=env)
        baseline.append(time.monotonic() - started)
    print(f"{'(python + import airflow.sdk)':40} {statistics.median(baseline):6.2f} s")
    for dag_file in sorted(DAGS.glob("*.py")):
        times = []
        for _ in range(3):
            started = time.monotonic()
            subprocess.run([sys.executable, str(dag_file)], check=True, env=env, capture_output=True)
            times.append(time.monotonic() - started)
        print(f"{dag_file.name:40} {statistics.median(times):6.2f} s")


if __name__ == "__main__":
    main()
