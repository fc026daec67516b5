"""The scaling benchmark (bench/scaling.py) on a tiny size: two partition counts, a few
thousand messages, drained through the benchmark topic's ingestion DAG on the Celery
workers; it must end with every check OK (rows in both engines = messages produced,
committed offsets = high watermarks) and its table printed."""

from __future__ import annotations

import subprocess
import sys

from kafka_elt.settings import ROOT

MESSAGES = 4_000


def test_the_scaling_benchmark_drains_through_the_workers_and_its_ledger_checks_pass(distributed):
    try:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "scaling.py"),
                "--partitions",
                "1,2",
                "--messages",
                str(MESSAGES),
                "--idle-seconds",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"bench/scaling.py did not finish in 180 s:\n{exc.stdout}\n{exc.stderr}"
        ) from exc
    out = done.stdout + done.stderr
    print(out)
    assert done.returncode == 0, out
    assert "BAD" not in out
    assert "checks: OK" in done.stdout
    # One ledger per step, each line checked: both engines and the offsets.
    for check in ("run succeeded", f"PostgreSQL rows {MESSAGES:,}", f"ClickHouse rows {MESSAGES:,}",
                  "committed offsets"):  # fmt: skip
        assert done.stdout.count(f"OK  {check}") == 2, (check, out)
    assert "ESTIMATE, NOT MEASURED" in done.stdout
    table = done.stdout.split("=== scaling on the distributed profile", 1)[1]
    cells = [line.split("|") for line in table.splitlines() if "|" in line]
    assert [int(row[0]) for row in cells if row[0].strip().isdigit()] == [1, 2], table
