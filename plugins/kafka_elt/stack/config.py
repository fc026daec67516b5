"""Settings of the local stack: one place that turns .env.example, .env and the
generated secrets into the environment every service, DAG and dbt run sees.

Precedence (last wins): .env.example < .env < the calling shell's environment.
Secrets are generated once into ``<STACK_DIR>/secrets.env`` (mode 0600) and reused.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from kafka_elt.settings import CLICKHOUSE_CONN_ID, KAFKA_CONN_ID, POSTGRES_CONN_ID, ROOT

__all__ = ["CLICKHOUSE_CONN_ID", "KAFKA_CONN_ID", "POSTGRES_CONN_ID", "ROOT", "StackConfig"]

# Generated on first run; never committed. Names as they appear in secrets.env.
_SECRET_NAMES = (
    "POSTGRES_SUPERUSER_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "LOADER_PASSWORD",
    "DBT_PASSWORD",
    "CLICKHOUSE_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_FERNET_KEY",
    "REDIS_PASSWORD",  # the distributed profile's Celery broker
)

PROFILES = ("light", "distributed")


@dataclass(frozen=True)
class KafkaNode:
    """One Kafka process: a broker and a KRaft controller (combined mode)."""

    name: str  # supervisord program name, pid and log file
    node_id: int
    port: int
    controller_port: int


def parse_env_file(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines (``export`` prefix, quotes and comments allowed)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        parts = shlex.split(value) if value.strip() else [""]
        values[key.strip()] = parts[0] if parts else ""
    return values


def _new_secret(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    if name == "AIRFLOW_JWT_SECRET":
        # HS512 wants at least 64 bytes of key material.
        return secrets.token_urlsafe(64)
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class StackConfig:
    root: Path
    values: dict[str, str]

    @classmethod
    def load(cls, root: Path = ROOT, *, create_secrets: bool = True) -> StackConfig:
        values = parse_env_file(root / ".env.example")
        values.update(parse_env_file(root / ".env"))
        values.update({k: v for k, v in os.environ.items() if k in values or k in _SECRET_NAMES})
        state = Path(values.get("STACK_DIR", ".stack"))
        state = state if state.is_absolute() else root / state
        secrets_file = state / "secrets.env"
        stored = parse_env_file(secrets_file)
        missing = [n for n in _SECRET_NAMES if n not in stored and n not in values]
        if missing and create_secrets:
            state.mkdir(parents=True, exist_ok=True)
            stored.update({n: _new_secret(n) for n in missing})
            secrets_file.touch(mode=0o600)
            secrets_file.write_text(
                "# Generated on first run by the local stack. Do not commit.\n"
                + "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(stored.items()))
            )
        for name, value in stored.items():
            values.setdefault(name, value)
        values["STACK_DIR"] = str(state)
        profile = values.setdefault("STACK_PROFILE", "light")
        if profile not in PROFILES:
            raise ValueError(
                f"STACK_PROFILE={profile!r} is not one of {', '.join(PROFILES)} (see .env.example)"
            )
        return cls(root=root, values=values)

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    @property
    def state_dir(self) -> Path:
        return Path(self.values["STACK_DIR"])

    @property
    def host(self) -> str:
        return self.values["BIND_HOST"]

    def port(self, name: str) -> int:
        return int(self.values[f"{name}_PORT"])

    @property
    def distributed(self) -> bool:
        """STACK_PROFILE=distributed: Celery workers on Redis, three Kafka brokers."""
        return self.values["STACK_PROFILE"] == "distributed"

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        """Node 1 keeps the light profile's name and ports; the distributed profile adds
        ``kafka-2`` and ``kafka-3`` on KAFKA_2_PORT/KAFKA_3_PORT and their controller ports."""
        nodes = [KafkaNode("kafka", 1, self.port("KAFKA"), self.port("KAFKA_CONTROLLER"))]
        if self.distributed:
            nodes += [
                KafkaNode(f"kafka-{n}", n, self.port(f"KAFKA_{n}"), self.port(f"KAFKA_{n}_CONTROLLER"))
                for n in (2, 3)
            ]
        return nodes

    @property
    def kafka_replication(self) -> tuple[int, int]:
        """(replication factor, min.insync.replicas) of the pipeline's topics."""
        return (3, 2) if self.distributed else (1, 1)

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{self.host}:{node.port}" for node in self.kafka_nodes)

    @property
    def redis_url(self) -> str:
        password = quote(self.values["REDIS_PASSWORD"], safe="")
        return f"redis://default:{password}@{self.host}:{self.port('REDIS')}/0"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.host}:{self.port('AIRFLOW')}"

    @property
    def airflow_password_file(self) -> Path:
        return self.state_dir / "airflow" / "simple_auth_manager_passwords.json"

    def postgres_url(
        self, user_key: str, password_key: str, database: str, scheme: str = "postgresql"
    ) -> str:
        user = quote(self.values[user_key], safe="")
        password = quote(self.values[password_key], safe="")
        return f"{scheme}://{user}:{password}@{self.host}:{self.port('POSTGRES')}/{database}"

    def environment(self) -> dict[str, str]:
        """Every variable the stack's processes need, including Airflow's config."""
        v = self.values
        root = self.root
        airflow_home = self.state_dir / "airflow"
        kafka_extra = {
            "bootstrap.servers": self.kafka_bootstrap,
            "group.id": "kafka-elt",
            # Offsets are committed by the pipeline only after both databases hold the
            # batch; librdkafka's auto-commit would commit what was merely read.
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
        env = dict(v)
        env.update(
            {
                "POSTGRES_HOST": self.host,
                "CLICKHOUSE_HOST": self.host,
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
                # dbt profiles.yml reads only these.
                "DBT_POSTGRES_HOST": self.host,
                "DBT_POSTGRES_PORT": v["POSTGRES_PORT"],
                "DBT_POSTGRES_USER": v["DBT_USER"],
                "DBT_POSTGRES_PASSWORD": v["DBT_PASSWORD"],
                "DBT_POSTGRES_DBNAME": v["WAREHOUSE_DB"],
                "DBT_CLICKHOUSE_HOST": self.host,
                "DBT_CLICKHOUSE_PORT": v["CLICKHOUSE_HTTP_PORT"],
                "DBT_CLICKHOUSE_USER": v["CLICKHOUSE_USER"],
                "DBT_CLICKHOUSE_PASSWORD": v["CLICKHOUSE_PASSWORD"],
                "DBT_EXECUTABLE": str(root / ".venv-dbt" / "bin" / "dbt"),
                "DBT_PROJECT_DIR": str(root / "dbt"),
                "DBT_PROFILES_DIR": str(root / "dbt"),
                # Telemetry off everywhere.
                "DO_NOT_TRACK": "1",
                "SCARF_NO_ANALYTICS": "true",
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
                # Airflow.
                "AIRFLOW_HOME": str(airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
                # Airflow appends the plugins folder to sys.path, after site-packages: a venv
                # whose .pth names another checkout's plugins/ (a shared venv, a git
                # worktree) would run that checkout's kafka_elt. This one comes first.
                "PYTHONPATH": str(root / "plugins"),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": v["AIRFLOW_PARALLELISM"],
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__FERNET_KEY": v["AIRFLOW_FERNET_KEY"],
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{v['AIRFLOW_ADMIN_USER']}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.airflow_password_file),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres_url(
                    "AIRFLOW_DB_USER", "AIRFLOW_DB_PASSWORD", v["AIRFLOW_METADATA_DB"], "postgresql+psycopg2"
                ),
                "AIRFLOW__API__HOST": self.host,
                "AIRFLOW__API__PORT": v["AIRFLOW_PORT"],
                # One worker is plenty for a local UI and halves the api-server's memory.
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__BASE_URL": self.airflow_url,
                "AIRFLOW__API__SECRET_KEY": v["AIRFLOW_API_SECRET_KEY"],
                "AIRFLOW__API_AUTH__JWT_SECRET": v["AIRFLOW_JWT_SECRET"],
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.airflow_url}/execution/",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.state_dir / "logs" / "airflow"),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                # Latency and idle cost, measured with bench/idle.py and bench/freshness.py
                # (see .env.example): re-parse unchanged DAG files every 5 min instead of
                # every 30 s (a changed file is parsed at the next refresh anyway), and
                # look for new DAG files every 30 s.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": v["AIRFLOW_MIN_FILE_PROCESS_INTERVAL"],
                # Connections, from env vars only (no secrets in the metadata DB).
                f"AIRFLOW_CONN_{KAFKA_CONN_ID.upper()}": json.dumps(
                    {"conn_type": "kafka", "extra": kafka_extra}
                ),
                f"AIRFLOW_CONN_{POSTGRES_CONN_ID.upper()}": json.dumps(
                    {
                        "conn_type": "postgres",
                        "host": self.host,
                        "port": self.port("POSTGRES"),
                        "login": v["LOADER_USER"],
                        "password": v["LOADER_PASSWORD"],
                        "schema": v["WAREHOUSE_DB"],
                    }
                ),
                f"AIRFLOW_CONN_{CLICKHOUSE_CONN_ID.upper()}": json.dumps(
                    {
                        "conn_type": "clickhouse",
                        "host": self.host,
                        "port": self.port("CLICKHOUSE_HTTP"),
                        "login": v["CLICKHOUSE_USER"],
                        "password": v["CLICKHOUSE_PASSWORD"],
                    }
                ),
            }
        )
        if self.distributed:
            env.update(self._celery_environment())
        return env

    def _celery_environment(self) -> dict[str, str]:
        v = self.values
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            # Redis carries only the task messages; task state and results live in PostgreSQL.
            "AIRFLOW__CELERY__BROKER_URL": self.redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": self.postgres_url(
                "AIRFLOW_DB_USER", "AIRFLOW_DB_PASSWORD", v["AIRFLOW_METADATA_DB"], "db+postgresql"
            ),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": v["AIRFLOW_WORKER_CONCURRENCY"],
            # A task whose worker died (SIGKILL, a lost machine) stops heartbeating; after
            # this long the scheduler fails that try and its retry goes to a live worker.
            # Airflow's default (300 s) would leave a killed drain's partition idle 5 min.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": v["AIRFLOW_TASK_HEARTBEAT_TIMEOUT"],
        }

    def write_env_file(self) -> Path:
        """Write ``<STACK_DIR>/env``: ``source`` it to use dbt, psql or Airflow's CLI."""
        path = self.state_dir / "env"
        path.touch(mode=0o600)
        lines = ["# Generated by the local stack: `source .stack/env`. Holds secrets; do not commit."]
        lines += [f"export {k}={shlex.quote(val)}" for k, val in sorted(self.environment().items())]
        path.write_text("\n".join(lines) + "\n")
        return path
