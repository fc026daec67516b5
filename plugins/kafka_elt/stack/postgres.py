"""PostgreSQL from Debian's server packages: a cluster inside STACK_DIR on its own port.

Debian's ``initdb`` and ``postgres`` refuse to run as root, so when the stack runs as
root they run as the ``postgres`` system user the package creates. Every login, the
superuser's included, needs a password (scram-sha-256) over 127.0.0.1.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.paths import log_file, pid_file, state
from kafka_elt.stack.process import Service, StackError, wait_until
from kafka_elt.stack.supervision import SupervisedService, supervised

SUPERUSER = "postgres"


def bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    if not candidates:
        raise StackError(
            "PostgreSQL server binaries not found: run `make install` (apt-get install postgresql)"
        )
    return Path(candidates[0]).parent


def _os_user() -> str | None:
    """The OS user to run PostgreSQL as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise StackError("running as root but there is no `postgres` system user to run PostgreSQL") from exc
    return "postgres"


def _chown(path: Path, user: str | None) -> None:
    if user:
        shutil.chown(path, user, user)


def init(cfg: StackConfig) -> Path:
    data = state(cfg, "postgres", "data")
    if (data / "PG_VERSION").exists():
        return data
    user = _os_user()
    data.parent.mkdir(parents=True, exist_ok=True)
    _chown(data.parent, user)
    data.parent.chmod(0o700)
    print(f"postgres: initialising a cluster in {data}", flush=True)
    with tempfile.NamedTemporaryFile("w", dir=data.parent, delete=False) as pwfile:
        pwfile.write(cfg["POSTGRES_SUPERUSER_PASSWORD"] + "\n")
    _chown(Path(pwfile.name), user)
    try:
        subprocess.run(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(data),
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile.name}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
    except subprocess.CalledProcessError as exc:
        raise StackError(f"initdb failed:\n{exc.stderr.decode(errors='replace')}") from exc
    finally:
        os.unlink(pwfile.name)
    return data


def service(cfg: StackConfig) -> SupervisedService:
    data = state(cfg, "postgres", "data")
    socket_dir = state(cfg, "postgres", "socket")
    spec = Service(
        name="postgres",
        command=[
            str(bin_dir() / "postgres"),
            "-D",
            str(data),
            "-c",
            f"listen_addresses={cfg.host}",
            "-c",
            f"port={cfg.port('POSTGRES')}",
            "-c",
            f"unix_socket_directories={socket_dir}",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=256MB",
            "-c",
            "max_wal_size=2GB",
            # No JIT compilation: it cost about 1 s per query above jit_above_cost (most
            # of an incremental dbt pass's small queries over large tables: 0.50 s with,
            # 0.03 s without, for a staging test over 50,000 new rows among 10M), and
            # gained nothing measurable on full scans of them.
            "-c",
            "jit=off",
            # The data lives in memory (or on SSD): a random page costs about what a
            # sequential one does. At the default (4) the planner read a 5M-row raw table
            # in full (3.1 s) rather than probe its key for 50,000 new offsets (16 ms),
            # whenever its row estimate was off by 10x.
            "-c",
            "random_page_cost=1.1",
            # Minimal WAL: a table a transaction creates (what dbt's first build of every
            # mart and each run of a table mart do) is written without WAL and synced at
            # commit, as are its index builds. A 10M-row mart's CREATE TABLE AS otherwise
            # writes its every row twice. Crash safety is unchanged; what minimal gives
            # up is WAL archiving and streaming replicas, which this single-node stack
            # does not run (max_wal_senders must then be 0).
            "-c",
            "wal_level=minimal",
            "-c",
            "max_wal_senders=0",
            "-c",
            "logging_collector=off",
        ],
        log_file=log_file(cfg, "postgres"),
        pid_file=pid_file(cfg, "postgres"),
        user=_os_user(),
        # Fast shutdown: SIGTERM ("smart") waits for every client to disconnect, and
        # Airflow's pooled connections never do.
        stop_signal=signal.SIGINT,
        # A crash (a signal, a non-zero exit) is restarted; a clean shutdown someone asked
        # for outside the stack (`pg_ctl stop` exits 0) stays down until `make up`.
        autorestart="unexpected",
        exit_codes=(0,),
        start_seconds=3,
    )
    return supervised(cfg, spec)


def connect(cfg: StackConfig, database: str = "postgres", user: str = SUPERUSER, password: str | None = None):
    import psycopg2

    return psycopg2.connect(
        host=cfg.host,
        port=cfg.port("POSTGRES"),
        dbname=database,
        user=user,
        password=password if password is not None else cfg["POSTGRES_SUPERUSER_PASSWORD"],
        connect_timeout=3,
    )


def _can_connect(cfg: StackConfig) -> bool:
    connect(cfg).close()
    return True


def start(cfg: StackConfig) -> SupervisedService:
    init(cfg)
    socket_dir = state(cfg, "postgres", "socket")
    socket_dir.mkdir(parents=True, exist_ok=True)
    _chown(socket_dir, _os_user())
    svc = service(cfg)
    svc.start()
    took = wait_until(lambda: _can_connect(cfg), what="PostgreSQL", timeout=60, service=svc)
    print(f"postgres: ready on {cfg.host}:{cfg.port('POSTGRES')} ({took:.1f}s)", flush=True)
    provision(cfg)
    return svc


def provision(cfg: StackConfig) -> None:
    """Roles, databases, schemas and grants; idempotent, and passwords follow secrets.env."""
    from psycopg2 import sql

    roles = {
        cfg["AIRFLOW_DB_USER"]: cfg["AIRFLOW_DB_PASSWORD"],
        cfg["LOADER_USER"]: cfg["LOADER_PASSWORD"],
        cfg["DBT_USER"]: cfg["DBT_PASSWORD"],
    }
    admin = connect(cfg)
    admin.autocommit = True
    with admin.cursor() as cur:
        for role, password in roles.items():
            cur.execute("select 1 from pg_roles where rolname = %s", (role,))
            verb = "alter" if cur.fetchone() else "create"
            cur.execute(
                sql.SQL(verb + " role {} with login password {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        for database, owner in (
            (cfg["AIRFLOW_METADATA_DB"], cfg["AIRFLOW_DB_USER"]),
            (cfg["WAREHOUSE_DB"], SUPERUSER),
        ):
            cur.execute("select 1 from pg_database where datname = %s", (database,))
            if not cur.fetchone():
                cur.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(database), sql.Identifier(owner)
                    )
                )
    admin.close()

    loader, dbt = sql.Identifier(cfg["LOADER_USER"]), sql.Identifier(cfg["DBT_USER"])
    warehouse = connect(cfg, cfg["WAREHOUSE_DB"])
    warehouse.autocommit = True
    statements = [
        # `create schema if not exists` checks CREATE on the database even when the schema
        # exists; dbt's incremental models need temporary tables.
        "grant create, temporary on database {db} to {loader}, {dbt}",
        # raw: written by the loader only; dbt reads it.
        "create schema if not exists raw authorization {loader}",
        "grant usage on schema raw to {dbt}",
        "grant select on all tables in schema raw to {dbt}",
        "alter default privileges for role {loader} in schema raw grant select on tables to {dbt}",
        # analytics: built by dbt; the loader (Airflow's warehouse connection) reads marts.
        "create schema if not exists analytics authorization {dbt}",
        "grant usage on schema analytics to {loader}",
        "grant select on all tables in schema analytics to {loader}",
        "alter default privileges for role {dbt} in schema analytics grant select on tables to {loader}",
        # monitoring: benchmark results and other pipeline bookkeeping, written by Airflow.
        "create schema if not exists monitoring authorization {loader}",
        "grant usage on schema monitoring to {dbt}",
        "alter default privileges for role {loader} in schema monitoring grant select on tables to {dbt}",
        "revoke create on schema public from public",
    ]
    with warehouse.cursor() as cur:
        for statement in statements:
            cur.execute(
                sql.SQL(statement).format(loader=loader, dbt=dbt, db=sql.Identifier(cfg["WAREHOUSE_DB"]))
            )
    warehouse.close()
