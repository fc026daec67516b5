"""A killed drain try, explained: from outside, or out of memory (kernel OOM-kill counters)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kafka_elt.ingest.kill_report import (
    MemoryEvidence,
    TryRecord,
    load_record,
    read_evidence,
    report_killed_try,
    report_previous_try,
    track_try,
    try_key,
    verdict,
)

MIB = 1024 * 1024
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def fake_root(
    tmp_path: Path, *, version: int, oom_kill: int = 0, machine_oom_kill: int = 0, limit="max"
) -> Path:
    """A /proc and /sys/fs/cgroup as the kernel shows them to a process in a container."""
    root = tmp_path / "root"
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/vmstat").write_text(f"pgfault 12\noom_kill {machine_oom_kill}\n")
    (root / "proc/meminfo").write_text("MemTotal:       24684092 kB\nMemFree:  100 kB\n")
    if version == 2:
        (root / "proc/self/cgroup").write_text("0::/\n")
        cgroup = root / "sys/fs/cgroup"
        cgroup.mkdir(parents=True)
        (cgroup / "memory.events").write_text(f"low 0\nhigh 0\nmax 4\noom {oom_kill}\noom_kill {oom_kill}\n")
        (cgroup / "memory.max").write_text(f"{limit}\n")
    elif version == 1:
        (root / "proc/self/cgroup").write_text("4:memory:/docker/abc\n1:cpu:/docker/abc\n")
        memory = root / "sys/fs/cgroup/memory"
        memory.mkdir(parents=True)
        (memory / "memory.oom_control").write_text(f"oom_kill_disable 0\nunder_oom 0\noom_kill {oom_kill}\n")
        (memory / "memory.limit_in_bytes").write_text(f"{limit}\n")
    return root


def set_oom_kills(root: Path, count: int) -> None:
    events = root / "sys/fs/cgroup/memory.events"
    events.write_text(f"oom {count}\noom_kill {count}\n")


def test_cgroup_v2_counters_and_limit(tmp_path):
    evidence = read_evidence(fake_root(tmp_path, version=2, oom_kill=1, limit=2048 * MIB))
    assert evidence == MemoryEvidence({"cgroup": 1, "machine": 0}, 2048 * MIB, "cgroup memory.max")


def test_cgroup_v1_without_a_limit_falls_back_to_the_machines_ram(tmp_path):
    evidence = read_evidence(fake_root(tmp_path, version=1, oom_kill=3, limit=9223372036854771712))
    assert evidence.oom_kills == {"cgroup": 3, "machine": 0}
    assert evidence.limit_bytes == 24684092 * 1024 and "machine's RAM" in evidence.limit_source


def test_no_cgroup_at_all(tmp_path):
    evidence = read_evidence(fake_root(tmp_path, version=0, machine_oom_kill=2))
    assert evidence.oom_kills == {"machine": 2}


def record(outcome=None, **oom_kills) -> TryRecord:
    return TryRecord(
        4242, "2026-12-01T20:00:00+00:00", oom_kills, 2048 * MIB, "cgroup memory.max", 512 * MIB, outcome
    )


def test_killed_from_outside():
    message = verdict(2, record(cgroup=0, machine=5), MemoryEvidence({"cgroup": 0, "machine": 5}))
    assert message.startswith("try 2 (pid 4242) was killed from outside (SIGKILL), not out of memory: ")
    assert "oom_kill count unchanged at cgroup 0, machine 5; peak RSS 512 MiB of limit 2,048 MiB" in message
    assert "memory is" not in message


def test_killed_by_memory():
    message = verdict(2, record(cgroup=0, machine=5), MemoryEvidence({"cgroup": 1, "machine": 5}))
    assert "killed by a signal, and memory is the likely cause" in message
    assert "cgroup 0 -> 1" in message and "not out of memory" not in message


def test_no_counter_no_claim():
    message = verdict(2, record(), MemoryEvidence({}))
    assert "whether memory was the cause cannot be told here" in message


def test_a_try_that_raised_or_left_no_record_needs_no_verdict():
    assert (
        verdict(2, record("SinkWriteError: ClickHouse down", cgroup=0), MemoryEvidence({"cgroup": 9})) is None
    )
    assert verdict(2, None, MemoryEvidence({"cgroup": 0})) is None


def test_success_leaves_nothing_and_an_exception_is_recorded(tmp_path):
    root, state = fake_root(tmp_path, version=2), tmp_path / "state"
    key = try_key("ingest_web_logs", "manual__2026-12-01T20:00:00+00:00", "drain", 1)
    assert "/" not in key and ":" not in key and "+" not in key
    with pytest.raises(RuntimeError), track_try(key, 1, state_dir=state, root=root):
        raise RuntimeError("ClickHouse down")
    assert load_record(key, 1, state).outcome == "RuntimeError: ClickHouse down"
    with track_try(key, 2, state_dir=state, root=root) as live:
        assert load_record(key, 2, state).pid == os.getpid() == live.pid
    assert list(state.iterdir()) == []  # the task instance succeeded: nothing left to explain


KILLED_TRY = """
import os, signal, sys
from pathlib import Path
from kafka_elt.ingest.kill_report import track_try
with track_try(sys.argv[1], 1, state_dir=Path(sys.argv[2]), root=Path(sys.argv[3]), sample_every_s=0.05):
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize(("oom_kills_after", "words"), [(0, "killed from outside (SIGKILL), not out of memory"),
                                                        (1, "memory is the likely cause")])  # fmt: skip
def test_the_next_try_explains_a_sigkill(tmp_path, caplog, oom_kills_after, words):
    root, state = fake_root(tmp_path, version=2), tmp_path / "state"
    key = try_key("ingest_web_logs", "run", "drain", 0)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_TRY, key, str(state), str(root)],
        env={**os.environ, "PYTHONPATH": str(PLUGINS)},
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    set_oom_kills(root, oom_kills_after)
    with caplog.at_level(logging.INFO, logger="kafka_elt.ingest.kill_report"):
        message = report_previous_try(key, 2, state_dir=state, root=root)
    assert words in message and message.startswith("try 1 (pid ")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_first_try_and_missing_records(tmp_path, caplog):
    state = tmp_path / "state"
    assert report_previous_try("k", 1, state_dir=state) is None
    with caplog.at_level(logging.INFO, logger="kafka_elt.ingest.kill_report"):
        assert report_previous_try("k", 3, state_dir=state) is None
    assert "no record of try 2 on this machine" in caplog.text


def test_callback_speaks_only_for_a_killed_try(tmp_path, caplog):
    from kafka_elt.ingest.kill_report import _path, _save

    root, state = fake_root(tmp_path, version=2), tmp_path / "state"
    ti = SimpleNamespace(dag_id="ingest_web_logs", run_id="r", task_id="drain", map_index=2, try_number=1)
    path = _path(state, try_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index), 1)
    with caplog.at_level(logging.WARNING, logger="kafka_elt.ingest.kill_report"):
        _save(path, record("OffsetCommitError: fenced", cgroup=0))
        report_killed_try({"ti": ti}, state_dir=state, root=root)
        assert caplog.text == ""  # it raised: Airflow has logged why
        _save(path, record(cgroup=0))
        report_killed_try({"ti": ti}, state_dir=state, root=root)
    assert "try 1 (pid 4242) was killed from outside (SIGKILL), not out of memory" in caplog.text
