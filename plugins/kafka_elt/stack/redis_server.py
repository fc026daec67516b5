"""Debian's redis-server as the Celery broker of the distributed profile.

It carries only Airflow's task messages (task state and results are in PostgreSQL), on
127.0.0.1 with the generated REDIS_PASSWORD. The password is in a config file of mode
0600 inside STACK_DIR, not on the command line, where ``ps`` would show it. The
append-only file keeps queued task messages through a restart of Redis.
"""

from __future__ import annotations

import shutil
import socket

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.paths import log_file, pid_file, state
from kafka_elt.stack.process import Service, StackError, wait_until
from kafka_elt.stack.supervision import SupervisedService, supervised


def _binary() -> str:
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def config_text(cfg: StackConfig) -> str:
    return "\n".join(
        [
            f"bind {cfg.host}",
            f"port {cfg.port('REDIS')}",
            "protected-mode yes",
            f'requirepass "{cfg["REDIS_PASSWORD"]}"',
            f"dir {state(cfg, 'redis')}",
            "daemonize no",
            'logfile ""',
            'save ""',
            "appendonly yes",
            "appendfsync everysec",
            "maxmemory 256mb",
            # Queued task messages must never be evicted.
            "maxmemory-policy noeviction",
            "",
        ]
    )


def write_config(cfg: StackConfig) -> None:
    home = state(cfg, "redis")
    home.mkdir(parents=True, exist_ok=True)
    path = home / "redis.conf"
    path.touch(mode=0o600)
    path.write_text(config_text(cfg))


def service(cfg: StackConfig) -> SupervisedService:
    home = state(cfg, "redis")
    spec = Service(
        name="redis",
        command=[_binary(), str(home / "redis.conf")],
        log_file=log_file(cfg, "redis"),
        pid_file=pid_file(cfg, "redis"),
        cwd=home,
        autorestart="true",
        start_seconds=3,
    )
    return supervised(cfg, spec)


def ping(cfg: StackConfig) -> bool:
    """AUTH and PING over Redis's protocol: True when both are answered as expected."""
    with socket.create_connection((cfg.host, cfg.port("REDIS")), timeout=2) as conn:
        password = cfg["REDIS_PASSWORD"].encode()
        conn.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(password), password))
        answer = b""
        while answer.count(b"\r\n") < 2:
            chunk = conn.recv(256)
            if not chunk:
                break
            answer += chunk
    return answer == b"+OK\r\n+PONG\r\n"


def start(cfg: StackConfig) -> SupervisedService:
    if shutil.which("redis-server") is None:
        raise StackError("redis-server not found: run `make install` (it installs redis-server with apt-get)")
    write_config(cfg)
    svc = service(cfg)
    svc.start()
    took = wait_until(lambda: ping(cfg), what="Redis", timeout=30, service=svc)
    print(f"redis: ready on {cfg.host}:{cfg.port('REDIS')} ({took:.1f}s)", flush=True)
    return svc
