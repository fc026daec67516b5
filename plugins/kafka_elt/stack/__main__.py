"""Manage the local stack: ``python -m kafka_elt.stack up|down|status|logs|env``.

``up`` installs what is missing (broker jars), starts Kafka, PostgreSQL, ClickHouse and
Airflow bound to 127.0.0.1, and provisions roles, databases and topics; running it
again is harmless. ``down`` stops every process it started, by pid, and waits.
"""

from __future__ import annotations

import argparse
import sys
import time

from kafka_elt.stack import airflow, clickhouse, dbt, kafka, postgres
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import Service, StackError

ORDER = ("postgres", "kafka", "clickhouse", "airflow")


def topics_to_create() -> dict[str, int]:
    from kafka_elt.ingest.registry import load_registry

    return {spec.topic: spec.partitions for spec in load_registry()}


def all_services(cfg: StackConfig) -> dict[str, list[Service]]:
    return {
        "postgres": [postgres.service(cfg)],
        "kafka": [kafka.service(cfg)],
        "clickhouse": [clickhouse.service(cfg)],
        "airflow": airflow.services(cfg),
    }


def up(cfg: StackConfig, names: list[str]) -> None:
    started = time.monotonic()
    cfg.write_env_file()
    if "postgres" in names:
        postgres.start(cfg)
    if "kafka" in names:
        kafka.start(cfg)
        kafka.create_topics(cfg, topics_to_create())
    if "clickhouse" in names:
        clickhouse.start(cfg)
    if "airflow" in names:
        dbt.ensure_manifest(cfg)
        airflow.start(cfg)
    print(f"stack: up in {time.monotonic() - started:.1f}s ({', '.join(names)})")
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
    down_count = 0
    for name in ORDER:
        for svc in all_services(cfg)[name]:
            pid = svc.pid()
            if pid is None:
                down_count += 1
                print(f"{svc.name:22} stopped")
            else:
                print(f"{svc.name:22} running  pid {pid:<8} rss {_rss_mib(pid):7.0f} MiB  log {svc.log_file}")
    return 1 if down_count else 0


def logs(cfg: StackConfig, name: str | None, lines: int) -> None:
    for group in all_services(cfg).values():
        for svc in group:
            if name in (None, svc.name) or (name and svc.name.startswith(name)):
                print(f"===== {svc.name} ({svc.log_file})")
                print(svc.tail(lines))


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
    p_logs.add_argument("service", nargs="?", help="e.g. kafka, postgres, clickhouse, airflow-scheduler")
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
