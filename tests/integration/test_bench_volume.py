"""bench/volume.py at a small size, as `make bench-volume` runs it at full size: a Kafka
backlog through the drain and the project's dbt build into both engines, then two
incremental passes that each re-send candles with new prices and add new ones. The
script checks every count and the marts' agreement itself, after the first build and
after each pass, and exits 1 when one fails; this test runs it and reads its verdicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_small_volume_run_agrees_after_the_first_and_each_incremental_build(stack):
    proc = subprocess.run(
        [
            sys.executable,
            "bench/volume.py",
            "--visits",
            "20000",
            "--candle-minutes",
            "1000",
            "--increment",
            "4000",
            "--passes",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    verdicts = [line.strip() for line in out.splitlines() if line.strip().startswith(("OK ", "BAD "))]
    assert verdicts and not [v for v in verdicts if v.startswith("BAD")], "\n".join(verdicts)
    assert sum("both engines' marts agree" in v for v in verdicts) == 3, "\n".join(verdicts)
    # each incremental pass re-sent 1,000 candles (new prices) and added 1,000: the mart
    # grows by the new ones only
    assert "market_candle 9,000 rows (candles produced: 9,000)" in out, "\n".join(verdicts)
    assert "market_candle 10,000 rows (candles produced: 10,000)" in out, "\n".join(verdicts)
