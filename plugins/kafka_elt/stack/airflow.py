"""Airflow 3 as separate processes: api-server, scheduler, dag-processor, triggerer,
and in the distributed profile Celery workers (``airflow-worker-1``, ``-2``, ...), each a
process of its own with its own task slots, taking tasks from Redis.

Metadata lives in the stack's PostgreSQL. ``airflow standalone`` is not used: it binds
the scheduler's and triggerer's log servers to every interface; here they are started
with ``--skip-serve-logs`` (LocalExecutor reads task logs from disk anyway).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from functools import partial
from pathlib import Path

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.paths import log_file, pid_file, state
from kafka_elt.stack.process import Service, StackError, wait_until
from kafka_elt.stack.supervision import SupervisedService, supervised

COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def components(cfg: StackConfig) -> dict[str, list[str]]:
    """Program name (without ``airflow-``) -> the airflow CLI's arguments."""
    if not cfg.distributed:
        return COMPONENTS
    workers = {
        # --celery-hostname: one machine, two workers; Celery needs distinct node names.
        # --skip-serve-logs: task logs are files on this machine, which the api-server
        # reads; a worker's log server would listen on every interface.
        f"worker-{n}": [
            "celery",
            "worker",
            "--concurrency",
            cfg["AIRFLOW_WORKER_CONCURRENCY"],
            "--celery-hostname",
            f"worker-{n}@%h",
            "--skip-serve-logs",
        ]
        for n in range(1, int(cfg["AIRFLOW_CELERY_WORKERS"]) + 1)
    }
    return {**COMPONENTS, **workers}


def _requirements(cfg: StackConfig, name: str) -> tuple[tuple[str, str, int], ...]:
    metadata_db = ("PostgreSQL (Airflow's metadata database)", cfg.host, cfg.port("POSTGRES"))
    if name.startswith("worker-"):
        return (metadata_db, ("Redis (the Celery broker)", cfg.host, cfg.port("REDIS")))
    return (metadata_db,)


def services(cfg: StackConfig) -> list[SupervisedService]:
    """The four components, supervised: each is restarted on any exit. They exit when the
    metadata database goes away (measured: scheduler and dag-processor ~2 s after
    PostgreSQL stops, the triggerer ~12 s), and a start without it fails in ~2.5 s, so
    ``start_seconds`` is 10 and the launcher checks PostgreSQL first (a cheap failed start)."""
    env = cfg.environment()
    return [
        supervised(
            cfg,
            Service(
                name=f"airflow-{name}",
                command=[airflow_bin(), *args],
                log_file=log_file(cfg, f"airflow-{name}"),
                pid_file=pid_file(cfg, f"airflow-{name}"),
                env=env,
                cwd=state(cfg, "airflow"),
                autorestart="true",
                start_seconds=10,
                requires=_requirements(cfg, name),
            ),
        )
        for name, args in components(cfg).items()
    ]


def _write_passwords_file(cfg: StackConfig) -> None:
    path = cfg.airflow_password_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps({cfg["AIRFLOW_ADMIN_USER"]: cfg["AIRFLOW_ADMIN_PASSWORD"]}))


def migrate(cfg: StackConfig) -> None:
    print("airflow: migrating the metadata database ...", flush=True)
    result = subprocess.run(
        [airflow_bin(), "db", "migrate"], env=cfg.environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise StackError(f"`airflow db migrate` failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def health(cfg: StackConfig) -> dict:
    with urllib.request.urlopen(f"{cfg.airflow_url}/api/v2/monitor/health", timeout=3) as response:
        return json.load(response)


def _healthy(cfg: StackConfig) -> bool:
    report = health(cfg)
    return all(
        (report.get(part) or {}).get("status") == "healthy"
        for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    )


def start(cfg: StackConfig) -> list[SupervisedService]:
    state(cfg, "airflow").mkdir(parents=True, exist_ok=True)
    _write_passwords_file(cfg)
    started = services(cfg)
    if not all(svc.is_running() for svc in started):
        migrate(cfg)
    for svc in started:
        svc.start()
    api = started[0]
    took = wait_until(
        lambda: _healthy(cfg), what="Airflow api-server and components", timeout=180, service=api
    )
    for svc in started:
        if svc.name.startswith("airflow-worker-"):
            took += wait_until(
                partial(worker_ready, svc),
                what=f"the Celery worker {svc.name}",
                timeout=120,
                service=svc,
            )
    print(f"airflow: ready at {cfg.airflow_url} ({took:.1f}s)", flush=True)
    return started


def worker_ready(svc: SupervisedService) -> bool:
    """Celery prints ``celery@<node> ready.`` once connected to its broker and consuming;
    only the log since the worker's latest start counts (the launcher marks each start)."""
    text = svc.log_file.read_text(errors="replace") if svc.log_file.exists() else ""
    latest = text.rsplit("=====", 1)[-1]
    return " ready." in latest


def token(cfg: StackConfig) -> str:
    """A JWT for the REST API, from ``POST /auth/token`` with the admin's password."""
    body = json.dumps(
        {"username": cfg["AIRFLOW_ADMIN_USER"], "password": cfg["AIRFLOW_ADMIN_PASSWORD"]}
    ).encode()
    request = urllib.request.Request(
        f"{cfg.airflow_url}/auth/token",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


class AirflowApi:
    """A small client for Airflow's REST API v2, authenticated as the stack's admin."""

    def __init__(self, cfg: StackConfig):
        self.base = f"{cfg.airflow_url}/api/v2"
        self._token = token(cfg)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise StackError(
                f"Airflow API {method} {path} answered {exc.code}: {exc.read().decode()[:500]}"
            ) from exc

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self.request("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def runs(self, dag_id: str, limit: int = 20) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns?order_by=-start_date&limit={limit}")["dag_runs"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")["state"]

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed ``dag_id`` into the metadata DB."""
        wait_until(
            lambda: bool(self.request("GET", f"/dags/{dag_id}")),
            what=f"DAG {dag_id} to be parsed",
            timeout=timeout,
        )
