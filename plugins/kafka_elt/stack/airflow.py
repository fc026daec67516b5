"""Airflow 3 as separate processes: api-server, scheduler, dag-processor, triggerer.

Metadata lives in the stack's PostgreSQL. ``airflow standalone`` is not used: it binds
the scheduler's and triggerer's log servers to every interface; here they are started
with ``--skip-serve-logs`` (LocalExecutor reads task logs from disk anyway).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.paths import log_file, pid_file, state
from kafka_elt.stack.process import Service, StackError, wait_until

COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def services(cfg: StackConfig) -> list[Service]:
    env = cfg.environment()
    return [
        Service(
            name=f"airflow-{name}",
            command=[airflow_bin(), *args],
            log_file=log_file(cfg, f"airflow-{name}"),
            pid_file=pid_file(cfg, f"airflow-{name}"),
            env=env,
            cwd=state(cfg, "airflow"),
        )
        for name, args in COMPONENTS.items()
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
    with urllib.request.urlopen(f"{cfg.airflow_url}/api/v2/monitor/health", timeout=3) as response:  # noqa: S310
        return json.load(response)


def _healthy(cfg: StackConfig) -> bool:
    report = health(cfg)
    return all(
        (report.get(part) or {}).get("status") == "healthy"
        for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    )


def start(cfg: StackConfig) -> list[Service]:
    state(cfg, "airflow").mkdir(parents=True, exist_ok=True)
    _write_passwords_file(cfg)
    started = services(cfg)
    if not all(svc.is_running() for svc in started):
        migrate(cfg)
    for svc in started:
        svc.start()
    api = started[0]
    took = wait_until(lambda: _healthy(cfg), what="Airflow api-server and components", timeout=180, service=api)
    print(f"airflow: ready at {cfg.airflow_url} ({took:.1f}s)", flush=True)
    return started


def token(cfg: StackConfig) -> str:
    """A JWT for the REST API, from ``POST /auth/token`` with the admin's password."""
    body = json.dumps({"username": cfg["AIRFLOW_ADMIN_USER"], "password": cfg["AIRFLOW_ADMIN_PASSWORD"]}).encode()
    request = urllib.request.Request(
        f"{cfg.airflow_url}/auth/token", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL from config
        return json.load(response)["access_token"]
