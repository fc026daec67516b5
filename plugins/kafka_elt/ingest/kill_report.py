"""How a drain try ended when it could not say so itself: killed from outside, or by memory.

A process killed with SIGKILL logs nothing, and Airflow 3 then writes "Likely out of
memory error (OOM)" whatever the cause (an operator's kill, a worker or container
restart). This module tells the two apart from evidence, in the project's words:

- ``track_try`` wraps a try: when it starts it records its pid, the kernel's OOM-kill
  counters (the cgroup's: v2 ``memory.events``, v1 ``memory.oom_control``; the machine's:
  ``/proc/vmstat``) and the memory limit, then its peak RSS every few seconds; it marks
  the record with the exception if the try raises, and deletes it when the try succeeds.
- ``report_previous_try`` (at the start of the next try) and ``report_killed_try`` (the
  task's on_retry/on_failure callback) read it back: a record with no outcome means the
  process was killed by a signal; an OOM-kill counter that rose since it started means
  memory was the cause. Airflow 3.3 runs no task callback for a SIGKILLed task
  (apache/airflow#60858), so the next try is the report that always comes.

Records live in the machine's temporary directory: the next try finds the evidence when
it runs on the same machine (LocalExecutor, as here), and says so when it does not.
Standard library only: the DAG file imports it at parse time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

STATE_DIR = Path(tempfile.gettempdir()) / "kafka_elt" / "drain_tries"
_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63
_MIB = 1024 * 1024


@dataclass(frozen=True)
class MemoryEvidence:
    """The kernel's OOM-kill counters readable here, and the memory limit that applies."""

    oom_kills: dict[str, int] = field(default_factory=dict)  # "cgroup" / "machine" -> count
    limit_bytes: int | None = None
    limit_source: str = "unknown"


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _field(text: str | None, name: str) -> int | None:
    match = re.search(rf"^{name}\s+(\d+)", text or "", re.MULTILINE)
    return int(match.group(1)) if match else None


def _cgroup_dirs(root: Path) -> tuple[list[Path], list[Path]]:
    """Candidate folders of this process's cgroup: (v2, v1 memory controller)."""
    v2, v1 = [], []
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            v2.append(root / "sys/fs/cgroup" / path.lstrip("/"))
        elif "memory" in controllers.split(","):
            v1.append(root / "sys/fs/cgroup/memory" / path.lstrip("/"))
    # In a container the mount is often the cgroup itself, whatever /proc/self/cgroup says.
    return [*v2, root / "sys/fs/cgroup"], [*v1, root / "sys/fs/cgroup/memory"]


def read_evidence(root: Path = Path("/")) -> MemoryEvidence:
    """What the kernel says now (``root`` lets tests point at a fake /proc and /sys)."""
    oom_kills: dict[str, int] = {}
    limit, source = None, "unknown"
    v2_dirs, v1_dirs = _cgroup_dirs(root)
    for folder in v2_dirs:
        count = _field(_read(folder / "memory.events"), "oom_kill")
        if count is not None:
            oom_kills["cgroup"] = count
            text = (_read(folder / "memory.max") or "max").strip()
            limit, source = (int(text), "cgroup memory.max") if text.isdigit() else (None, source)
            break
    else:
        for folder in v1_dirs:
            count = _field(_read(folder / "memory.oom_control"), "oom_kill")
            if count is not None:
                oom_kills["cgroup"] = count
                text = (_read(folder / "memory.limit_in_bytes") or "").strip()
                if text.isdigit() and int(text) < _UNLIMITED:
                    limit, source = int(text), "cgroup memory.limit_in_bytes"
                break
    machine = _field(_read(root / "proc/vmstat"), "oom_kill")
    if machine is not None:
        oom_kills["machine"] = machine
    if limit is None:
        total_kib = _field(_read(root / "proc/meminfo"), "MemTotal:")
        if total_kib is not None:
            limit, source = total_kib * 1024, "the machine's RAM; no cgroup limit"
    return MemoryEvidence(oom_kills, limit, source)


@dataclass
class TryRecord:
    """One try of one task instance, as it was when it last could say."""

    pid: int
    started_at: str
    oom_kills: dict[str, int]
    limit_bytes: int | None
    limit_source: str
    peak_rss_bytes: int = 0
    outcome: str | None = None  # the exception it ended with; None: no word from it


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def try_key(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{dag_id}.{run_id}.{task_id}.{map_index}")


def _path(state_dir: Path, key: str, try_number: int) -> Path:
    return state_dir / f"{key}.try{try_number}.json"


def _save(path: Path, record: TryRecord) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(record)))
        partial.replace(path)  # atomic: a kill mid-write leaves the previous version
    except OSError as exc:
        # The evidence is a courtesy to the operator: never fail a drain over it.
        log.warning("cannot record this try in %s (%s); a kill would go unexplained", path, exc)


def load_record(key: str, try_number: int, state_dir: Path = STATE_DIR) -> TryRecord | None:
    text = _read(_path(state_dir, key, try_number))
    try:
        return TryRecord(**json.loads(text)) if text else None
    except (ValueError, TypeError) as exc:
        log.warning("unreadable record of try %d of %s: %s", try_number, key, exc)
        return None


@contextmanager
def track_try(
    key: str,
    try_number: int,
    *,
    state_dir: Path = STATE_DIR,
    sample_every_s: float = 5.0,
    root: Path = Path("/"),
) -> Iterator[TryRecord]:
    """Record this try (see the module docstring) while the ``with`` block runs."""
    evidence = read_evidence(root)
    record = TryRecord(
        os.getpid(), datetime.now(UTC).isoformat(), evidence.oom_kills, evidence.limit_bytes,
        evidence.limit_source, _peak_rss_bytes(),
    )  # fmt: skip
    path = _path(state_dir, key, try_number)
    _save(path, record)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(sample_every_s):
            record.peak_rss_bytes = _peak_rss_bytes()
            _save(path, record)

    sampler = threading.Thread(target=sample, name="kill-report-rss", daemon=True)
    sampler.start()
    try:
        yield record
    except BaseException as exc:
        record.outcome = f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        stop.set()
        sampler.join()
        record.peak_rss_bytes = _peak_rss_bytes()
        if record.outcome is None:  # success: nothing left to explain for this task instance
            for done in state_dir.glob(f"{key}.try*.json"):
                done.unlink(missing_ok=True)
        else:
            _save(path, record)


def _mib(value: int | None) -> str:
    return "unknown" if value is None else f"{value / _MIB:,.0f} MiB"


def verdict(try_number: int, record: TryRecord | None, now: MemoryEvidence) -> str | None:
    """What to say about a try from its record and the counters now; None when the try
    said itself how it ended (an exception, which Airflow has logged) or left no record."""
    if record is None or record.outcome is not None:
        return None
    memory = (
        f"peak RSS {_mib(record.peak_rss_bytes)} of limit {_mib(record.limit_bytes)} ({record.limit_source})"
    )
    counters = [name for name in record.oom_kills if name in now.oom_kills]
    rose = [name for name in counters if now.oom_kills[name] > record.oom_kills[name]]
    if rose:
        changes = ", ".join(f"{name} {record.oom_kills[name]} -> {now.oom_kills[name]}" for name in rose)
        return (
            f"try {try_number} (pid {record.pid}) was killed by a signal, and memory is the likely cause: "
            f"the kernel's OOM-kill count rose since it started ({changes}); {memory}. Give the worker "
            "more memory, or lower the topic's batch_size in include/topics.yaml."
        )
    if not counters:
        return (
            f"try {try_number} (pid {record.pid}) was killed by a signal; whether memory was the cause "
            f"cannot be told here (no OOM-kill counter readable); {memory}."
        )
    unchanged = ", ".join(f"{name} {now.oom_kills[name]}" for name in counters)
    return (
        f"try {try_number} (pid {record.pid}) was killed from outside (SIGKILL), not out of memory: "
        f"oom_kill count unchanged at {unchanged}; {memory}. Something outside the task stopped it "
        "(an operator, a worker or container restart); Airflow's 'Likely out of memory' is its guess "
        "for any SIGKILL."
    )


def report_previous_try(
    key: str, try_number: int, *, state_dir: Path = STATE_DIR, root: Path = Path("/")
) -> str | None:
    """At the start of a retry: log (and return) how the previous try ended, if it was killed."""
    if try_number <= 1:
        return None
    previous = try_number - 1
    record = load_record(key, previous, state_dir)
    if record is None:
        log.info("no record of try %d on this machine: how it ended is in its own log", previous)
        return None
    message = verdict(previous, record, read_evidence(root))
    if message:
        log.warning("%s", message)
    return message


def report_killed_try(context, *, state_dir: Path = STATE_DIR, root: Path = Path("/")) -> None:
    """on_retry_callback / on_failure_callback: the verdict on the try that just ended."""
    ti = context["ti"]
    key = try_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
    message = verdict(ti.try_number, load_record(key, ti.try_number, state_dir), read_evidence(root))
    if message:
        log.warning("%s", message)
