"""bench/decode_bench.py's cpu mode runs the drain's real sinks against stand-in
connections, so it breaks silently when a sink starts calling the client differently
(it did once: the ClickHouse sink moved to raw_insert of its own Native blocks). It
needs no services; run it small and read its table."""

from __future__ import annotations

import subprocess
import sys

from kafka_elt.settings import ROOT


def test_decode_bench_cpu_prints_a_row_per_kind():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "decode_bench.py"),
            "cpu",
            "--messages",
            "2000",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.split()}
    for topic in ("market_candle", "web-logs-topic"):
        decode, postgres, clickhouse, total, _median = rows[topic]
        assert float(decode) > 0 and float(postgres) > 0 and float(clickhouse) > 0
        assert abs(float(total) - (float(decode) + float(postgres) + float(clickhouse))) < 0.02
