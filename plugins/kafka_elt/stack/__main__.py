"""Manage the local stack: ``python -m kafka_elt.stack up|down|status|logs|env``.

``up`` installs what is missing (broker jars), starts supervisord, then through it
Kafka, PostgreSQL, ClickHouse (Redis in the distributed profile) and Airflow bound to
127.0.0.1, each after the one it needs is ready, and provisions roles, databases and topics; running it again is
harmless. supervisord restarts a service that exits on its own, with backoff.
``down`` stops every service through supervisord, waits, then stops supervisord.
"""

from __future__ import annotations

import argparse
import sys
import time

from kafka_elt.stack import airflow, clickhouse, dbt, kafka, postgres, redis_server, supervision
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.paths import log_file
from kafka_elt.stack.process import Service, StackError
from kafka_elt.stack.services import ORDER, all_services, flat

__all__ = ["ORDER", "all_services", "down", "main", "status", "up"]


def topics_to_create() -> dict[str, int]:
    from kafka_elt.ingest.registry import load_registry

    return {spec.topic: spec.partitions for spec in load_registry()}


def check_profile(cfg: StackConfig) -> None:
    """A STACK_DIR keeps the profile it was created with: its raw tables are keyed by the
    offsets of its own Kafka, which a new cluster would hand out again from 0."""
    path = cfg.state_dir / "profile"
    profile = cfg["STACK_PROFILE"]
    if not path.exists():
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(profile + "\n")
        return
    if (was := path.read_text().strip()) != profile:
        raise StackError(
            f"{cfg.state_dir} holds a {was!r} stack and STACK_PROFILE is {profile!r}: give the "
            f"{profile} profile its own STACK_DIR (in .env), or `make clean` this one first"
        )


def up(cfg: StackConfig, names: list[str]) -> None:
    started = time.monotonic()
    check_profile(cfg)
    cfg.write_env_file()
    supervision.ensure_running(cfg, flat(cfg))
    if "postgres" in names:
        postgres.start(cfg)
    if "kafka" in names:
        kafka.start(cfg)
        kafka.create_topics(cfg, topics_to_create())
    if "clickhouse" in names:
        clickhouse.start(cfg)
    if "redis" in names and cfg.distributed:
        redis_server.start(cfg)
    if "airflow" in names:
        dbt.ensure_manifest(cfg)
        airflow.start(cfg)
    print(
        f"stack: {cfg['STACK_PROFILE']} profile up in {time.monotonic() - started:.1f}s ({', '.join(names)})"
    )
    if "airflow" in names:
        print(
            f"stack: Airflow UI {cfg.airflow_url}  user {cfg['AIRFLOW_ADMIN_USER']}, password in {cfg.airflow_password_file}"
        )
    print(f"stack: `source {cfg.state_dir / 'env'}` to use dbt, psql or the airflow CLI against it")


def down(cfg: StackConfig, names: list[str]) -> None:
    services = all_services(cfg)
    for name in reversed(ORDER):
        if name not in names:
            continue
        for svc in reversed(services[name]):
            if svc.stop():
                print(f"stack: stopped {svc.name}", flush=True)
    if set(ORDER) <= set(names) and supervision.shutdown(cfg):
        print("stack: stopped supervisord", flush=True)


def _rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    from kafka_elt.stack.process import _group_pids

    total = 0
    for member in _group_pids(pid):
        try:
            for line in open(f"/proc/{member}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def status(cfg: StackConfig) -> int:
    """One line for supervisord, one per service: state, pid, memory, uptime, restarts, log.

    Returns 1 unless supervisord and every service are running."""
    client = supervision.Supervisor.of(cfg)
    infos = client.all_info()
    counts = supervision.restart_counts(cfg)
    not_running = 0
    sup_pid = supervision.supervisord_pid(cfg) if infos else None
    if sup_pid:
        listener = supervision.listener_pid(cfg)
        extra = f" + {_rss_mib(listener):.0f} MiB restart counter" if listener else ""
        print(
            f"{'supervisord':22} {'running':9} pid {sup_pid:<8} rss {_rss_mib(sup_pid):7.0f} MiB{extra}  "
            f"socket {supervision.socket_path(cfg)}  log {log_file(cfg, 'supervisord')}"
        )
    else:
        not_running += 1
        print(f"{'supervisord':22} stopped   (`make up` starts it, then every service through it)")
    for svc in flat(cfg):
        info = infos.get(svc.name)
        if info is None:  # no supervisord: is anything left running by pid file?
            pid = Service.pid(svc)
            not_running += 1
            print(f"{svc.name:22} " + (f"running   pid {pid:<8} WITHOUT supervisor" if pid else "stopped"))
            continue
        state = supervision.describe(info)
        count = counts.get(svc.name, {})
        restarts = f"restarts {count.get('restarts', 0)}"
        if count.get("restarts"):
            restarts += f" (last {count['last_at']}: {count['last']})"
        pid = info["pid"]
        where = f"pid {pid:<8} rss {_rss_mib(pid):7.0f} MiB  " if pid else ""
        if info["statename"] == "RUNNING":
            where += f"up {supervision.uptime(info):>8}  "
        else:
            not_running += 1
        print(f"{svc.name:22} {state:9} {where}{restarts}  log {svc.log_file}")
    return 1 if not_running else 0


def logs(cfg: StackConfig, name: str | None, lines: int) -> None:
    files = [("supervisord", log_file(cfg, "supervisord"))] + [(svc.name, svc.log_file) for svc in flat(cfg)]
    for service, path in files:
        if name in (None, service) or (name and service.startswith(name)):
            print(f"===== {service} ({path})")
            if path.exists():
                print("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kafka_elt.stack", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("up", "down"):
        p = sub.add_parser(command)
        p.add_argument(
            "--services", default=",".join(ORDER), help=f"comma-separated subset of {','.join(ORDER)}"
        )
    sub.add_parser("status")
    p_logs = sub.add_parser("logs")
    p_logs.add_argument(
        "service", nargs="?", help="e.g. kafka, postgres, clickhouse, airflow-scheduler, supervisord"
    )
    p_logs.add_argument("-n", "--lines", type=int, default=40)
    sub.add_parser("env", help="write and print the path of the env file to `source`")
    args = parser.parse_args(argv)

    cfg = StackConfig.load()
    try:
        if args.command in ("up", "down"):
            names = [n.strip() for n in args.services.split(",") if n.strip()]
            unknown = set(names) - set(ORDER)
            if unknown:
                parser.error(f"unknown services: {', '.join(sorted(unknown))}")
            (up if args.command == "up" else down)(cfg, names)
        elif args.command == "status":
            return status(cfg)
        elif args.command == "logs":
            logs(cfg, args.service, args.lines)
        else:
            print(cfg.write_env_file())
    except StackError as exc:
        print(f"stack: ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
