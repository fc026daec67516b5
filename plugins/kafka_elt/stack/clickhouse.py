"""The real ClickHouse engine (chdb wheel) serving ClickHouse's HTTP interface.

The server itself lives in :mod:`kafka_elt.stack.chdb_server`; this module starts it as
a managed process, waits for ``/ping`` and creates the databases the pipeline uses.
"""

from __future__ import annotations

import sys
import urllib.request

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.paths import log_file, pid_file, state
from kafka_elt.stack.process import Service, wait_until
from kafka_elt.stack.supervision import SupervisedService, supervised

DATABASES = ("raw", "analytics", "monitoring")


def service(cfg: StackConfig) -> SupervisedService:
    home = state(cfg, "clickhouse")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(cfg.root / "plugins"),
        "CLICKHOUSE_USER": cfg["CLICKHOUSE_USER"],
        "CLICKHOUSE_PASSWORD": cfg["CLICKHOUSE_PASSWORD"],
    }
    spec = Service(
        name="clickhouse",
        command=[
            sys.executable,
            "-m",
            "kafka_elt.stack.chdb_server",
            "--data",
            str(home / "data"),
            "--conf-dir",
            str(home / "conf"),
            "--host",
            cfg.host,
            "--port",
            str(cfg.port("CLICKHOUSE_HTTP")),
        ],
        log_file=log_file(cfg, "clickhouse"),
        pid_file=pid_file(cfg, "clickhouse"),
        env=env,
        cwd=home,
        # Killed or crashed: restarted. Exit 0 is the keep-alive query ended on purpose
        # (`KILL QUERY`, see chdb_server): stays down until `make up`.
        autorestart="unexpected",
        exit_codes=(0,),
        start_seconds=5,  # importing chdb takes 1-2 s before the listener can fail
    )
    return supervised(cfg, spec)


def ping(cfg: StackConfig) -> bool:
    url = f"http://{cfg.host}:{cfg.port('CLICKHOUSE_HTTP')}/ping"
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.read().strip() == b"Ok."


def client(cfg: StackConfig):
    import clickhouse_connect

    return clickhouse_connect.get_client(
        host=cfg.host,
        port=cfg.port("CLICKHOUSE_HTTP"),
        username=cfg["CLICKHOUSE_USER"],
        password=cfg["CLICKHOUSE_PASSWORD"],
    )


def start(cfg: StackConfig) -> SupervisedService:
    state(cfg, "clickhouse").mkdir(parents=True, exist_ok=True)
    svc = service(cfg)
    svc.start()
    took = wait_until(lambda: ping(cfg), what="ClickHouse /ping", timeout=60, service=svc)
    print(f"clickhouse: ready on {cfg.host}:{cfg.port('CLICKHOUSE_HTTP')} ({took:.1f}s)", flush=True)
    ch = client(cfg)
    for database in DATABASES:
        ch.command(f"create database if not exists {database}")
    ch.close()
    return svc
