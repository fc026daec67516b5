"""One ``dbt build`` per target and run, from dbt's own venv, with a line per node.

dbt starts up once per build (parsing is incremental thanks to its partial-parse file
in ``target/<target>/``, one folder per target so that both engines build at the same
time without sharing dbt's state), runs every selected model and test with its
threads, and reports each node as a JSON log line; this module turns those lines into
readable progress and into the result of every node, which the per-model tasks read.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

RESULTS_XCOM_KEY = "dbt_results"
FAILED = {"error", "fail", "runtime error"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# dbt events that carry a node's outcome.
_RESULT_EVENTS = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"}


@dataclass
class NodeResult:
    status: str  # success | error | pass | fail | warn | skipped
    seconds: float = 0.0
    message: str = ""


@dataclass
class BuildResult:
    target: str
    select: list[str]
    returncode: int
    seconds: float
    nodes: dict[str, NodeResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # dbt's error lines, in order

    @property
    def failed_nodes(self) -> list[str]:
        return [uid for uid, r in self.nodes.items() if r.status in FAILED]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.failed_nodes

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.nodes.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        shown = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no node"
        scope = " ".join(self.select) if self.select else "every model"
        return f"dbt build --target {self.target} ({scope}): {shown} in {self.seconds:.1f}s"


def selection_for(target_engine: str, raw_schema: str, changed_assets: Iterable[str]) -> list[str]:
    """What to build, from the raw-table Assets that triggered the run (names
    ``<engine>.<schema>.<table>``): every model downstream of a changed raw table of this
    engine, plus the dead letters. No event (a manual run): an empty list, i.e. everything."""
    prefix = f"{target_engine}.{raw_schema}."
    tables = sorted({name.removeprefix(prefix) for name in changed_assets if name.startswith(prefix)})
    if not tables:
        return []
    return [f"source:kafka.{table}+" for table in tables] + ["source:kafka.dead_letter+"]


def dbt_command(
    dbt_executable: str,
    project_dir: Path,
    target: str,
    select: list[str],
    threads: int | None = None,
    dbt_vars: dict | None = None,
) -> list[str]:
    command = [
        dbt_executable,
        "--log-format",
        "json",
        "--no-use-colors",
        "build",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target",
        target,
        # Per target: partial parsing stays valid, and two builds never share a folder.
        "--target-path",
        str(project_dir / "target" / target),
        "--log-path",
        str(project_dir / "logs" / target),
        # manifest.json and run_results.json are not read by anyone here (results come
        # from the log lines); writing them costs about a second per build.
        "--no-write-json",
        # Unit tests check model logic on fixed fixture rows: the same answer on every
        # build, 1 to 2 s each. dbt's advice is to run them in development and CI (the
        # test suite does), not in production builds.
        "--exclude-resource-type",
        "unit_test",
    ]
    if threads:
        command += ["--threads", str(threads)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if select:
        command += ["--select", *select]
    return command


def parse_events(lines: Iterable[str]) -> Iterator[dict]:
    """dbt's JSON log lines as dicts; anything else (a traceback, a warning from a
    library) as an error event, so that it is shown rather than lost."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            yield {"info": {"name": "Output", "level": "error", "msg": line}, "data": {}}
            continue
        if isinstance(event, dict) and "info" in event:
            yield event


def _record(result: BuildResult, event: dict) -> str | None:
    """Update the result with one event; return the line to log, if any."""
    info, data = event["info"], event.get("data") or {}
    name, level = info.get("name"), info.get("level")
    msg = _ANSI.sub("", str(info.get("msg", ""))).strip()
    node = data.get("node_info") or {}
    uid = node.get("unique_id")
    if name in _RESULT_EVENTS and uid:
        status = str(data.get("status") if name == "LogTestResult" else node.get("node_status") or "").lower()
        if name == "LogTestResult" and status in ("fail", "warn"):
            message = f"{data.get('num_failures')} failing rows"
        else:
            message = "" if status in ("success", "pass") else str(data.get("status") or "")
        result.nodes[uid] = NodeResult(status, round(float(data.get("execution_time") or 0.0), 3), message)
        return msg
    if name == "SkippingDetails" and uid:
        result.nodes[uid] = NodeResult("skipped", 0.0, "an upstream node failed")
        return msg
    if level == "error" and msg:
        result.errors.append(msg)
        if uid and uid in result.nodes and not result.nodes[uid].message:
            result.nodes[uid].message = msg
        return msg
    if name in ("MainReportVersion", "FoundStats", "ConcurrencyLine", "StatsLine", "EndOfRunSummary"):
        return msg
    return None


def run_build(
    target: str,
    select: list[str],
    *,
    dbt_executable: str,
    project_dir: Path,
    env: Mapping[str, str] | None = None,
    threads: int | None = None,
    dbt_vars: dict | None = None,
) -> BuildResult:
    """Run ``dbt build`` for one target; log a line per node; never raise for dbt's own
    failures (they are in the result: ``ok``, ``failed_nodes``, ``errors``)."""
    command = dbt_command(dbt_executable, project_dir, target, select, threads, dbt_vars)
    log.info("running: %s", " ".join(command))
    started = time.monotonic()
    result = BuildResult(target=target, select=select, returncode=-1, seconds=0.0)
    try:
        process = subprocess.Popen(
            command,
            cwd=project_dir,
            env=dict(env if env is not None else os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"dbt executable {dbt_executable!r} not found: install dbt's venv (`make install`) or set "
            "DBT_EXECUTABLE to dbt's path"
        ) from exc
    try:
        assert process.stdout is not None
        for event in parse_events(process.stdout):
            line = _record(result, event)
            if line:
                log.log(logging.ERROR if event["info"].get("level") == "error" else logging.INFO, "%s", line)
        result.returncode = process.wait()
    except BaseException:
        # Killed from outside (task timeout, a user marking it failed): stop dbt with it.
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        raise
    result.seconds = round(time.monotonic() - started, 3)
    log.info("%s", result.summary())
    return result
