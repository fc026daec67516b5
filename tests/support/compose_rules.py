"""Rules that docker-compose.yaml and the Dockerfile must follow, checked without Docker.

Docker cannot run here, so these rules read both files and hold them to what the
containerised stack relies on: every service present and healthy-checked, start order
by condition, ports on 127.0.0.1 only, no secret in the file, state in named volumes,
one Airflow image with dbt in a venv of its own, and client and server agreeing on
every address and credential.

The same rules hold for the distributed layout, docker-compose.yaml with
docker-compose.distributed.yaml merged over it as compose merges them
(``Compose.merged``), and a few more for what that layout adds: the CeleryExecutor with
its Redis broker and two workers, and Kafka as a three-node KRaft cluster.

Each rule is a function that returns the problems it finds (empty: the file follows
it). tests/unit/test_docker_compose.py runs them on the real files and on copies broken
one way each, so that no rule passes vacuously.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PATH = ROOT / "docker-compose.yaml"
DISTRIBUTED_PATH = ROOT / "docker-compose.distributed.yaml"
DOCKERFILE_PATH = ROOT / "Dockerfile"

# service -> the `airflow` subcommand it runs
AIRFLOW_COMPONENTS = {
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
CELERY_WORKERS = ("airflow-worker-1", "airflow-worker-2")
LIGHT_PROJECT = "kafka-elt"
KAFKA_IMAGE = "apache/kafka:"
REQUIRED_SERVICES = {
    "kafka",
    "kafka-init",
    "postgres",
    "postgres-init",
    "clickhouse",
    "airflow-init",
    *AIRFLOW_COMPONENTS,
}
# Where each stateful service keeps its data: it must be a named volume.
DATA_DIRS = {
    "kafka": "/var/lib/kafka/data",
    "postgres": "/var/lib/postgresql/data",
    "clickhouse": "/var/lib/clickhouse",
}
EXPECTED_TOPICS = {"market_candle": 3, "web-logs-topic": 3}
CONDITIONS = {"service_healthy", "service_completed_successfully", "service_started"}

SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN", re.IGNORECASE)
# Settings that name where a secret is kept, not the secret itself.
SECRET_LOCATION = re.compile(r"_(FILE|PATH|DIR)$", re.IGNORECASE)
# `${VAR...}` but not the `$${VAR}` escape, which compose passes to the container's shell.
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
REQUIRED_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$")
REQUIRED_MARK = "REQUIRED-REFERENCE"
EMBEDDED_CREDENTIALS = (
    re.compile(r'"password"\s*:\s*"([^"]*)"', re.IGNORECASE),  # JSON connections
    re.compile(r"://[^/@\s:]+:([^@\s]+)@"),  # user:password@ in URLs
    re.compile(r"--password[= ]+(\S+)"),  # command-line flags
)

# --- reading the files ------------------------------------------------------------------


@dataclass(frozen=True)
class Compose:
    text: str
    data: dict[str, Any]
    # docker-compose.yaml alone, or with docker-compose.distributed.yaml merged over it.
    distributed: bool = False

    @classmethod
    def parse(cls, text: str) -> Compose:
        return cls(text=text, data=yaml.safe_load(text))

    @classmethod
    def merged(cls, base_text: str, override_text: str) -> Compose:
        data = merge_compose(yaml.safe_load(base_text), yaml.safe_load(override_text))
        return cls(text=base_text + "\n" + override_text, data=data, distributed=True)

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.data.get("services") or {}

    def env(self, service: str) -> dict[str, str]:
        raw = self.services.get(service, {}).get("environment") or {}
        if isinstance(raw, list):
            raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}


# Compose replaces these lists when an override sets them; other lists are merged.
_REPLACED_LISTS = {"command", "entrypoint", "test"}


def _merge_list(key: str, base: list[Any], override: list[Any]) -> list[Any]:
    if key in _REPLACED_LISTS:
        return override
    if key == "volumes":  # a service's mounts, merged by container path
        targets = {_mount(volume)[1] for volume in override}
        return [v for v in base if _mount(v)[1] not in targets] + override
    return base + [item for item in override if item not in base]


def merge_compose(base: Any, override: Any, key: str = "") -> Any:
    """``override`` merged into ``base`` as `docker compose -f base -f override` does:
    mappings key by key (so environment variables and depends_on entries one by one),
    lists per _merge_list, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge_compose(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return _merge_list(key, base, override)
    return override


def interpolate(value: str) -> str:
    """What compose would make of a value: defaults applied, required values filled in."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if operator in (":-", "-"):
            return argument
        return f"sample-{name.lower().replace('_', '-')}"

    return VAR_REF.sub(substitute, value)


def mask_references(value: str) -> str:
    """References as a pattern can see them: required ones marked, defaults applied."""

    def substitute(match: re.Match[str]) -> str:
        operator, argument = match.group(2), match.group(3)
        if operator == ":?":
            return REQUIRED_MARK
        return argument if operator in (":-", "-") else "BARE-REFERENCE"

    return VAR_REF.sub(substitute, value)


def command_words(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)


def kafka_nodes(compose: Compose) -> list[str]:
    """The Kafka brokers: services on the apache/kafka image."""
    return [
        name
        for name, service in compose.services.items()
        if str(service.get("image", "")).startswith(KAFKA_IMAGE)
    ]


def celery_workers(compose: Compose) -> list[str]:
    return [name for name in CELERY_WORKERS if name in compose.services]


def airflow_services(compose: Compose) -> list[str]:
    """The long-running Airflow services: the four components, and the Celery workers."""
    return [*AIRFLOW_COMPONENTS, *celery_workers(compose)]


def one_shot_services(compose: Compose) -> set[str]:
    """Services that others wait on to finish: init jobs, not long-running."""
    return {
        dep
        for service in compose.services.values()
        for dep, spec in (service.get("depends_on") or {}).items()
        if isinstance(spec, dict) and spec.get("condition") == "service_completed_successfully"
    }


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#"):  # comments, also between continuation lines
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            keyword, _, args = current.strip().partition(" ")
            instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def dockerfile_base_image(text: str) -> str:
    args: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions(text):
        if keyword == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        if keyword == "FROM":
            image = rest.split()[0]
            return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
    return ""


def dbt_venv_dir(text: str) -> str | None:
    for keyword, rest in dockerfile_instructions(text):
        if keyword == "RUN" and (
            match := re.search(r"python3?(?:\.\d+)? -m venv (\S+?)/?[;&\s]", rest + " ")
        ):
            return match.group(1)
    return None


# --- rules ------------------------------------------------------------------------------


def missing_services(compose: Compose) -> list[str]:
    return [f"service {name} is missing" for name in sorted(REQUIRED_SERVICES - set(compose.services))]


def healthcheck_problems(compose: Compose) -> list[str]:
    problems = []
    one_shot = one_shot_services(compose)
    for name, service in compose.services.items():
        check = service.get("healthcheck") or {}
        if name in one_shot:
            if service.get("restart") not in (None, "no"):
                problems.append(f"{name} is awaited to complete but restarts ({service['restart']})")
            continue
        test = check.get("test")
        if check.get("disable") or not test or test in ("NONE", ["NONE"]):
            problems.append(f"{name} runs for good but has no healthcheck")
    return problems


def _condition_problem(
    name: str, dep: str, spec: dict | None, services: dict[str, dict[str, Any]], one_shot: set[str]
) -> str | None:
    """What is wrong with ``name`` waiting for ``dep`` as ``spec`` says, if anything."""
    condition = (spec or {}).get("condition")
    if dep not in services:
        return f"{name} depends on {dep}, which does not exist"
    if condition not in CONDITIONS:
        return f"{name} -> {dep}: no valid condition ({condition!r})"
    if condition == "service_healthy" and not (services[dep].get("healthcheck") or {}).get("test"):
        return f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"
    if condition == "service_started" and dep not in one_shot:
        return f"{name} -> {dep}: service_started does not wait for readiness"
    return None


def _dependency_cycles(services: dict[str, dict[str, Any]]) -> list[str]:
    """Cycles in depends_on: compose would refuse to start."""
    cycles = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == "done":
            return
        if state.get(node) == "active":
            cycles.append("dependency cycle: " + " -> ".join([*path, node]))
            return
        state[node] = "active"
        for dep in (services.get(node, {}).get("depends_on") or {}) if node in services else {}:
            if dep in services:
                visit(dep, [*path, node])
        state[node] = "done"

    for name in services:
        visit(name, [])
    return cycles


def dependency_problems(compose: Compose) -> list[str]:
    problems = []
    services = compose.services
    one_shot = one_shot_services(compose)
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            problems.append(f"{name}: depends_on is a list, so it waits for nothing but the start")
            continue
        for dep, spec in depends_on.items():
            if problem := _condition_problem(name, dep, spec, services, one_shot):
                problems.append(problem)
    return problems + _dependency_cycles(services)


def airflow_order_problems(compose: Compose) -> list[str]:
    """Airflow components start after the metadata DB is ready and migrated."""
    problems = []
    services = compose.services

    def waits_for(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        deps = set(services.get(name, {}).get("depends_on") or {})
        found = set(deps)
        for dep in deps - seen:
            found |= waits_for(dep, seen | {name})
        return found

    for name in [*airflow_services(compose), "airflow-init"]:
        if name in services and not {"postgres", "postgres-init"} <= waits_for(name):
            problems.append(f"{name} can start before PostgreSQL is provisioned")
    for name in airflow_services(compose):
        spec = (services.get(name, {}).get("depends_on") or {}).get("airflow-init") or {}
        if spec.get("condition") != "service_completed_successfully":
            problems.append(f"{name} does not wait for airflow-init to complete")
    # Where tasks run (scheduler: LocalExecutor; workers: Celery) and deferred sensors wait.
    for name in ("airflow-scheduler", "airflow-triggerer", *celery_workers(compose)):
        if name in services and "kafka-init" not in waits_for(name):
            problems.append(f"{name} can start before the Kafka topics exist")
    return problems


def port_problems(compose: Compose) -> list[str]:
    problems = []
    for name, service in compose.services.items():
        if service.get("network_mode") == "host":
            problems.append(f"{name} uses the host's network: every port it opens is exposed")
        for port in service.get("ports") or []:
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":", 1)[0]
            if host_ip != "127.0.0.1" or (isinstance(port, str) and port.count(":") < 2):
                problems.append(f"{name} publishes {port!r} beyond 127.0.0.1")
    return problems


def secret_problems(compose: Compose) -> list[str]:
    problems = []
    for name in compose.services:
        for key, value in compose.env(name).items():
            if SECRET_NAME.search(key) and not SECRET_LOCATION.search(key) and not REQUIRED_REF.match(value):
                problems.append(f"{name}: {key} is {value!r}, not a required ${{VAR:?...}} reference")
    for text in strings_in(compose.data):
        masked = mask_references(text)
        for pattern in EMBEDDED_CREDENTIALS:
            for found in pattern.findall(masked):
                if found != REQUIRED_MARK:
                    problems.append(f"credential {found!r} written into {text[:60]!r}")
    for match in VAR_REF.finditer(compose.text):
        variable, operator = match.group(1), match.group(2)
        if SECRET_NAME.search(variable) and operator != ":?":
            problems.append(f"{match.group(0)}: a secret must be required (:?), never defaulted")
    return problems


def _mount(volume: str | dict[str, Any]) -> tuple[str, str]:
    """(source, target) of a volume entry, short (``src:dst[:mode]``) or long syntax."""
    if isinstance(volume, dict):
        return str(volume.get("source", "")), str(volume.get("target", ""))
    source, _, rest = str(volume).partition(":")
    return source, rest.split(":")[0]


def _is_bind_mount(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _is_named_volume(source: str) -> bool:
    return bool(source) and not _is_bind_mount(source)


def volume_problems(compose: Compose) -> list[str]:
    problems = []
    declared = set(compose.data.get("volumes") or {})
    used: set[str] = set()
    mounts: dict[str, dict[str, str]] = {}
    for name, service in compose.services.items():
        for source, target in map(_mount, service.get("volumes") or []):
            mounts.setdefault(name, {})[target] = source
            if _is_bind_mount(source):
                if source.startswith(".") and not (ROOT / source).exists():
                    problems.append(f"{name} bind-mounts {source}, which is not in the repository")
            elif source:
                used.add(source)
                if source not in declared:
                    problems.append(f"{name} mounts volume {source!r}, which is not declared")
    data_dirs = {**DATA_DIRS, **{node: DATA_DIRS["kafka"] for node in kafka_nodes(compose)}}
    problems += [
        f"{service} keeps {data_dir} outside a named volume: its data is lost on rm"
        for service, data_dir in data_dirs.items()
        if not _is_named_volume(mounts.get(service, {}).get(data_dir, ""))
    ]
    problems += [f"volume {v} is declared but never mounted" for v in sorted(declared - used)]
    return problems + _kafka_volume_problems(compose, mounts)


def _kafka_volume_problems(compose: Compose, mounts: dict[str, dict[str, str]]) -> list[str]:
    """Each broker writes its log to its own volume."""
    problems = []
    nodes = kafka_nodes(compose)
    for node in nodes:
        if compose.env(node).get("KAFKA_LOG_DIRS") != DATA_DIRS["kafka"]:
            problems.append(f"{node}: KAFKA_LOG_DIRS is not the directory on its data volume")
    sources = [mounts.get(node, {}).get(DATA_DIRS["kafka"]) for node in nodes]
    if len(set(sources)) != len(sources):
        problems.append(f"Kafka nodes share a data volume: {dict(zip(nodes, sources, strict=True))}")
    return problems


def airflow_image_problems(compose: Compose) -> list[str]:
    problems = []
    images = set()
    for name in [*airflow_services(compose), "airflow-init", "kafka-init"]:
        service = compose.services.get(name, {})
        build = service.get("build")
        build = {"context": build} if isinstance(build, str) else (build or {})
        if build.get("context") not in (".", "./") or build.get("dockerfile", "Dockerfile") != "Dockerfile":
            problems.append(f"{name} is not built from the repository's Dockerfile")
        images.add(service.get("image"))
    if len(images) != 1:
        problems.append(f"Airflow services run different images: {sorted(map(str, images))}")
    return problems


def airflow_command_problems(compose: Compose) -> list[str]:
    problems = []
    for name, subcommand in AIRFLOW_COMPONENTS.items():
        words = command_words(compose.services.get(name, {}))
        words = words[1:] if words[:1] == ["airflow"] else words
        if words[:1] != [subcommand]:
            problems.append(f"{name} runs {words!r}, not `airflow {subcommand}`")
    for name in celery_workers(compose):
        words = command_words(compose.services[name])
        if (words[1:] if words[:1] == ["airflow"] else words)[:2] != ["celery", "worker"]:
            problems.append(f"{name} runs {words!r}, not `airflow celery worker`")
    for name in ("airflow-scheduler", "airflow-triggerer", *celery_workers(compose)):
        if "--skip-serve-logs" not in command_words(compose.services.get(name, {})):
            problems.append(f"{name} starts a log server on all interfaces (add --skip-serve-logs)")
    script = next(
        (w for w in command_words(compose.services.get("airflow-init", {})) if w.endswith(".sh")), ""
    )
    local = ROOT / "docker" / "airflow" / Path(script).name
    if not script.startswith("/opt/airflow/docker/") or not local.is_file():
        problems.append(f"airflow-init runs {script!r}, which the image does not get from docker/airflow/")
    elif "airflow db migrate" not in local.read_text():
        problems.append(f"{local.name} does not migrate the metadata database")
    return problems


# Settings only the scheduler has (its health-check server), and only a worker has.
SCHEDULER_ONLY_ENV = {
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST",
}
WORKER_ONLY_ENV = {"DUMB_INIT_SETSID"}


def _worker_env_problems(compose: Compose) -> list[str]:
    """A worker runs the tasks the scheduler ran under the LocalExecutor: the same settings,
    connections and dbt variables, key by key (the override file repeats them)."""
    problems = []
    scheduler = compose.env("airflow-scheduler")
    for name in celery_workers(compose):
        env = compose.env(name)
        for key in sorted(set(scheduler) - SCHEDULER_ONLY_ENV):
            if env.get(key) != scheduler[key]:
                problems.append(f"{name}: {key} is {env.get(key)!r}, the scheduler's is {scheduler[key]!r}")
        if extra := sorted(set(env) - set(scheduler) - WORKER_ONLY_ENV):
            problems.append(f"{name} has settings the scheduler lacks: {extra}")
    return problems


def airflow_env_problems(compose: Compose) -> list[str]:
    problems = []
    required = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if compose.distributed else "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        # One setting moves the raw DDL, the loader's quorum inserts and dbt to a
        # replicated ClickHouse cluster (README, "Distributed"): every component gets it.
        "CLICKHOUSE_CLUSTER": "${CLICKHOUSE_CLUSTER:-}",
    }
    # Must be identical in every component: tokens, encrypted values and the DB are shared.
    shared = (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    )
    names = [n for n in [*airflow_services(compose), "airflow-init"] if n in compose.services]
    for name in names:
        env = compose.env(name)
        for key, expected in required.items():
            if env.get(key) != expected:
                problems.append(f"{name}: {key} is {env.get(key)!r}, expected {expected!r}")
        if not env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "").endswith(":admin"):
            problems.append(f"{name}: no admin user for SimpleAuthManager")
    for key in shared:
        values = {compose.env(n).get(key) for n in names}
        if len(values) != 1 or None in values:
            problems.append(f"{key} differs between Airflow components (or is missing): {values}")
    url = compose.env("airflow-scheduler").get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "")
    host = re.sub(r"^https?://([^:/]+).*", r"\1", url)
    if command_words(compose.services.get(host, {}))[:1] != ["api-server"]:
        problems.append(f"the execution API URL {url!r} does not point at the api-server service")
    return problems + _worker_env_problems(compose)


def connection(compose: Compose, conn_id: str) -> dict[str, Any]:
    value = compose.env("airflow-scheduler").get(f"AIRFLOW_CONN_{conn_id.upper()}", "")
    return json.loads(interpolate(value))


def connection_problems(compose: Compose) -> list[str]:
    problems = []
    try:
        kafka = connection(compose, "kafka_default")
        postgres = connection(compose, "warehouse_postgres")
        clickhouse = connection(compose, "warehouse_clickhouse")
    except json.JSONDecodeError as exc:
        return [f"an AIRFLOW_CONN_* value is not valid JSON once interpolated: {exc}"]
    extra = kafka.get("extra") or {}
    expected_extra = {"group.id": "kafka-elt", "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    if kafka.get("conn_type") != "kafka" or any(extra.get(k) != v for k, v in expected_extra.items()):
        problems.append(f"kafka_default is {kafka}")
    internal = set(in_network_addresses(compose).values())
    for where, bootstrap in bootstrap_settings(compose).items():
        if not bootstrap or not set(bootstrap.split(",")) <= internal:
            problems.append(
                f"{where} bootstrap {bootstrap!r} is not the brokers' advertised in-network addresses"
            )
    if (postgres.get("conn_type"), postgres.get("host"), postgres.get("port")) != (
        "postgres",
        "postgres",
        5432,
    ):
        problems.append(f"warehouse_postgres does not point at the postgres service: {postgres}")
    if postgres.get("login") != "loader" or postgres.get("schema") != "warehouse":
        problems.append(f"warehouse_postgres is not the loader role on the warehouse database: {postgres}")
    if (clickhouse.get("conn_type"), clickhouse.get("host"), clickhouse.get("port")) != (
        "clickhouse",
        "clickhouse",
        8123,
    ):
        problems.append(f"warehouse_clickhouse is not ClickHouse's HTTP interface: {clickhouse}")
    return problems


def _advertised(compose: Compose, node: str) -> dict[str, str]:
    """listener name -> the address a broker advertises for it."""
    return dict(re.findall(r"(\w+)://([^,]+)", compose.env(node).get("KAFKA_ADVERTISED_LISTENERS", "")))


def in_network_addresses(compose: Compose) -> dict[str, str]:
    """broker -> the address other containers reach it on (its inter-broker listener)."""
    addresses = {}
    for node in kafka_nodes(compose):
        listener = compose.env(node).get("KAFKA_INTER_BROKER_LISTENER_NAME", "")
        if address := _advertised(compose, node).get(listener):
            addresses[node] = address
    return addresses


def bootstrap_settings(compose: Compose) -> dict[str, str]:
    """Where each client is told to find Kafka."""
    settings = {"kafka-init": compose.env("kafka-init").get("KAFKA_BOOTSTRAP_SERVERS", "")}
    try:
        extra = connection(compose, "kafka_default").get("extra") or {}
        settings["kafka_default"] = str(extra.get("bootstrap.servers", ""))
    except json.JSONDecodeError:
        settings["kafka_default"] = ""  # connection_problems reports the JSON
    for name in airflow_services(compose):
        settings[f"{name} KAFKA_BOOTSTRAP_SERVERS"] = compose.env(name).get("KAFKA_BOOTSTRAP_SERVERS", "")
    return settings


def _kafka_node_problems(compose: Compose, node: str) -> list[str]:
    problems = []
    env = compose.env(node)
    if set(env.get("KAFKA_PROCESS_ROLES", "").split(",")) != {"broker", "controller"}:
        problems.append(f"{node} is not a combined KRaft node (broker,controller)")
    if not env.get("CLUSTER_ID"):
        problems.append(f"{node} has no CLUSTER_ID, which the image needs to format KRaft storage")
    if env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false":
        problems.append(f"{node} auto-creates topics: a misspelt topic would appear with 1 partition")
    return problems


def _kafka_listener_problems(compose: Compose, node: str) -> list[str]:
    problems = []
    listeners = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", compose.env(node).get("KAFKA_LISTENERS", "")))
    advertised = _advertised(compose, node)
    published = [str(p) for p in compose.services[node].get("ports") or []]
    host_side = [a for a in advertised.items() if a[1].startswith("127.0.0.1:")]
    if len(host_side) != 1:
        problems.append(f"{node} advertises no listener on 127.0.0.1 for clients on this machine")
    else:
        listener, address = host_side[0]
        host_port = address.split(":", 1)[1]
        if f"127.0.0.1:{host_port}:{listeners.get(listener)}" not in published:
            problems.append(
                f"{node} advertises {address} for {listener}, but publishes {published}: "
                "clients would be sent to a port nobody listens on"
            )
    for listener, address in advertised.items():
        if listener not in listeners:
            problems.append(f"{node} advertises {listener}, which it does not listen on")
        elif address.startswith("127.0.0.1:"):
            continue
        elif address != f"{node}:{listeners[listener]}":
            problems.append(
                f"{node} advertises {address} for {listener}; other containers reach it on "
                f"{node}:{listeners[listener]}"
            )
    return problems


def kafka_problems(compose: Compose) -> list[str]:
    nodes = kafka_nodes(compose)
    problems = [] if nodes else [f"no Kafka broker (no service on the {KAFKA_IMAGE} image)"]
    for node in nodes:
        problems += _kafka_node_problems(compose, node) + _kafka_listener_problems(compose, node)
    command = command_words(compose.services.get("kafka-init", {}))
    script = ROOT / "docker" / "airflow" / Path(command[-1] if command else "").name
    if not script.is_file() or "load_registry" not in script.read_text():
        problems.append("kafka-init does not create the topics of the topic registry")
    return problems


def _quorum_problems(compose: Compose, nodes: list[str]) -> list[str]:
    """One cluster: one id, distinct node ids, every node a voter of the same quorum."""
    problems = []
    envs = {node: compose.env(node) for node in nodes}
    if len({env.get("CLUSTER_ID") for env in envs.values()}) != 1:
        problems.append("the Kafka nodes have different CLUSTER_IDs: they would form separate clusters")
    ids = [env.get("KAFKA_NODE_ID", "") for env in envs.values()]
    if len(set(ids)) != len(ids) or "" in ids:
        problems.append(f"Kafka node ids are missing or repeated: {ids}")
    expected = set()
    for node, env in envs.items():
        port = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", env.get("KAFKA_LISTENERS", ""))).get("CONTROLLER")
        expected.add(f"{env.get('KAFKA_NODE_ID')}@{node}:{port}")
    for node, env in envs.items():
        voters = set(env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(","))
        if voters != expected:
            problems.append(f"{node}'s controller quorum is {sorted(voters)}, expected {sorted(expected)}")
    return problems


def _durability_problems(compose: Compose, nodes: list[str]) -> list[str]:
    """Every topic on every broker; a write acknowledged by all in-sync replicas (acks=all)
    is on all but one, so one broker may fail without losing it or stopping writes."""
    problems = []
    replicas, min_isr = str(len(nodes)), str(max(1, len(nodes) - 1))
    expected = {
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": replicas,
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": replicas,
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": min_isr,
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": replicas,
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": min_isr,
        "KAFKA_DEFAULT_REPLICATION_FACTOR": replicas if len(nodes) > 1 else None,
        "KAFKA_MIN_INSYNC_REPLICAS": min_isr if len(nodes) > 1 else None,
    }
    for node in nodes:
        env = compose.env(node)
        problems += [
            f"{node}: {key} is {env.get(key)!r}, expected {value!r} with {len(nodes)} broker(s)"
            for key, value in expected.items()
            if env.get(key) != value
        ]
    init = compose.env("kafka-init")
    wanted = {"KAFKA_REPLICATION_FACTOR": replicas, "KAFKA_MIN_INSYNC_REPLICAS": min_isr}
    for key, value in wanted.items():
        if init.get(key, "1") != value:
            problems.append(f"kafka-init: {key} is {init.get(key)!r}, expected {value!r}")
    return problems


def kafka_cluster_problems(compose: Compose) -> list[str]:
    """One KRaft node in the light layout, three in the distributed one, each reachable."""
    nodes = kafka_nodes(compose)
    expected = 3 if compose.distributed else 1
    problems = [] if len(nodes) == expected else [f"{len(nodes)} Kafka node(s) {nodes}, expected {expected}"]
    problems += _quorum_problems(compose, nodes) + _durability_problems(compose, nodes)
    everyone = set(in_network_addresses(compose).values())
    for where, bootstrap in bootstrap_settings(compose).items():
        if set(bootstrap.split(",")) != everyone:
            problems.append(f"{where} bootstrap {bootstrap!r} does not list every broker: {sorted(everyone)}")
    return problems


def layout_problems(compose: Compose) -> list[str]:
    """The light layout has no Celery at all; the distributed one is a project of its own
    (its own volumes: a one-broker volume holds single-replica topics) with Redis and two
    workers."""
    problems = []
    name = compose.data.get("name")
    workers = celery_workers(compose)
    if compose.distributed:
        if not name or name == LIGHT_PROJECT:
            problems.append(
                f"the distributed layout shares the project (and volumes) {name!r} of the light one"
            )
        if "redis" not in compose.services or workers != list(CELERY_WORKERS):
            problems.append(f"the distributed layout lacks Redis or a worker: redis, {workers}")
    elif name != LIGHT_PROJECT or "redis" in compose.services or workers:
        problems.append(f"the light layout changed: project {name!r}, Redis or Celery workers {workers}")
    return problems


_BROKER_URL = re.compile(r"^redis://[^:@/]*:(\$\{REDIS_PASSWORD:\?[^}]+\})@redis:6379/\d+$")


def _celery_setting_problems(compose: Compose) -> list[str]:
    """Every Airflow service: the Redis broker with the password, results in the metadata DB."""
    problems = []
    for name in [*airflow_services(compose), "airflow-init"]:
        env = compose.env(name)
        if not _BROKER_URL.match(env.get("AIRFLOW__CELERY__BROKER_URL", "")):
            problems.append(
                f"{name}: the Celery broker URL is not redis://...:${{REDIS_PASSWORD:?...}}@redis:6379/<db>"
            )
        database = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "").partition("://")[2]
        if not database or env.get("AIRFLOW__CELERY__RESULT_BACKEND") != f"db+postgresql://{database}":
            problems.append(f"{name}: the Celery result backend is not the metadata database")
    return problems


def _redis_problems(compose: Compose) -> list[str]:
    """Redis requires the password; everything that talks to it waits for it to be healthy."""
    problems = []
    redis = compose.services.get("redis", {})
    command = " ".join(command_words(redis))
    if "--requirepass" not in command or "$REDIS_PASSWORD" not in command:
        problems.append("redis does not require the password from REDIS_PASSWORD")
    if "ports" in redis:
        problems.append("redis publishes a port: only the Airflow containers need it")
    for name in airflow_services(compose):
        spec = (compose.services[name].get("depends_on") or {}).get("redis") or {}
        if spec.get("condition") != "service_healthy":
            problems.append(f"{name} does not wait for Redis to be healthy")
    return problems


def celery_problems(compose: Compose) -> list[str]:
    """The CeleryExecutor as in Airflow's compose file, with a password on Redis."""
    if not compose.distributed:
        return []
    problems = _celery_setting_problems(compose) + _redis_problems(compose)
    for name in celery_workers(compose):
        if compose.env(name).get("DUMB_INIT_SETSID") != "0":
            problems.append(f"{name}: no DUMB_INIT_SETSID=0, so Celery cannot shut down warm")
    init_script = (ROOT / "docker" / "airflow" / "airflow-init.sh").read_text()
    if "REDIS_PASSWORD" not in compose.env("airflow-init") or "REDIS_PASSWORD" not in init_script:
        problems.append("airflow-init does not check that REDIS_PASSWORD is URL-safe")
    return problems


def _password_source_problems(compose: Compose) -> list[str]:
    """Airflow (the client) and each server take a password from the same variable."""
    problems = []
    airflow_text = json.dumps(compose.env("airflow-scheduler"))
    server_side = {
        "LOADER_PASSWORD": "postgres-init",
        "DBT_PASSWORD": "postgres-init",
        "AIRFLOW_DB_PASSWORD": "postgres-init",
        "CLICKHOUSE_PASSWORD": "clickhouse",
        **({"REDIS_PASSWORD": "redis"} if compose.distributed else {}),
    }
    for variable, server in server_side.items():
        if f"${{{variable}:?" not in airflow_text:
            problems.append(f"Airflow does not take its password from {variable}")
        if f"${{{variable}:?" not in json.dumps(compose.env(server)):
            problems.append(f"{server} does not set the password from {variable}")
    return problems


def _provision_problems() -> list[str]:
    """docker/postgres/provision.sh creates the roles with those passwords, and the schemas."""
    problems = []
    provision = ROOT / "docker" / "postgres" / "provision.sh"
    text = provision.read_text() if provision.is_file() else ""
    for variable in ("AIRFLOW_DB_PASSWORD", "LOADER_PASSWORD", "DBT_PASSWORD"):
        if not re.search(rf"\\getenv \w+ {variable}\b", text):
            problems.append(f"provision.sh does not set a role password from {variable}")
    for schema in ("raw", "analytics"):
        if f"create schema if not exists {schema}" not in text:
            problems.append(f"provision.sh does not create the {schema} schema")
    return problems


def _clickhouse_user_problems(compose: Compose) -> list[str]:
    """ClickHouse has one user with a password, and every client logs in as that user."""
    problems = []
    clickhouse = compose.env("clickhouse")
    if clickhouse.get("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT") != "1" or not clickhouse.get("CLICKHOUSE_USER"):
        problems.append(
            "clickhouse keeps the passwordless default user (set CLICKHOUSE_USER and access management)"
        )
    user_ref = clickhouse.get("CLICKHOUSE_USER", "")
    for key in ("DBT_CLICKHOUSE_USER",):
        if compose.env("airflow-scheduler").get(key) != user_ref:
            problems.append(f"{key} is not the ClickHouse server's user {user_ref!r}")
    if user_ref not in compose.env("airflow-scheduler").get("AIRFLOW_CONN_WAREHOUSE_CLICKHOUSE", ""):
        problems.append("warehouse_clickhouse does not log in as the ClickHouse server's user")
    return problems


def credential_pairing_problems(compose: Compose) -> list[str]:
    """A client's password and the server's copy must come from the same variable."""
    return _password_source_problems(compose) + _provision_problems() + _clickhouse_user_problems(compose)


# `pip install` on Airflow's own pip, not a venv's (``/opt/dbt-venv/bin/pip install``).
_PLAIN_PIP = re.compile(r"(?<![/\w])pip3? install")


def _install_problems(runs: list[str], venv: str | None) -> list[str]:
    """requirements.txt into Airflow's environment, requirements-dbt.txt into dbt's venv only."""
    problems = []
    if not any(_PLAIN_PIP.search(r) and "requirements" in r for r in runs):
        problems.append("the Dockerfile does not pip-install requirements.txt into Airflow's environment")
    if not any("requirements.txt" in r and "-r" in r for r in runs):
        problems.append("requirements.txt is not installed")
    if venv is None:
        problems.append("the Dockerfile creates no venv for dbt")
    elif not any(f"{venv}/bin/pip install" in r and "requirements-dbt.txt" in r for r in runs):
        problems.append(f"requirements-dbt.txt is not installed into {venv}")
    if any(_PLAIN_PIP.search(r) and "requirements-dbt.txt" in r for r in runs if f"{venv}/bin/pip" not in r):
        problems.append("requirements-dbt.txt is installed into Airflow's environment")
    return problems


def _dbt_in_image_problems(text: str, runs: list[str], venv: str | None, compose: Compose) -> list[str]:
    """Image and compose run the venv's dbt, and the image holds the manifest it renders from."""
    problems = []
    expected_dbt = f"{venv}/bin/dbt"
    if compose.env("airflow-scheduler").get("DBT_EXECUTABLE") != expected_dbt:
        problems.append(f"compose's DBT_EXECUTABLE is not {expected_dbt}")
    if f"DBT_EXECUTABLE={expected_dbt}" not in text:
        problems.append(f"the image's DBT_EXECUTABLE is not {expected_dbt}")
    if not any(re.search(r"/bin/dbt parse\b", r) for r in runs):
        problems.append("the image has no dbt manifest: the dbt_marts DAG renders from target/manifest.json")
    return problems


def _copy_problems(text: str) -> list[str]:
    """The project's folders are copied where Airflow and dbt look for them."""
    copied = {
        rest.split()[-2].rstrip("/"): rest.split()[-1].rstrip("/")
        for keyword, rest in dockerfile_instructions(text)
        if keyword == "COPY" and len(rest.split()) >= 2
    }
    problems = []
    for folder in ("dags", "plugins", "include", "dbt", "docker/airflow"):
        target = "/opt/airflow/docker" if folder == "docker/airflow" else f"/opt/airflow/{folder}"
        if copied.get(folder) != target:
            problems.append(f"{folder}/ is not copied to {target}")
    return problems


def dockerfile_problems(text: str, compose: Compose) -> list[str]:
    problems = []
    base = dockerfile_base_image(text)
    pin = re.search(r"^apache-airflow==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    if not pin or base != f"apache/airflow:{pin.group(1)}-python3.11":
        problems.append(f"base image {base!r} does not match requirements.txt's Airflow on Python 3.11")
    runs = [rest for keyword, rest in dockerfile_instructions(text) if keyword == "RUN"]
    venv = dbt_venv_dir(text)
    problems += _install_problems(runs, venv)
    problems += _dbt_in_image_problems(text, runs, venv, compose)
    problems += _copy_problems(text)
    if not re.search(r"\[ -f constraints\.txt \].*-c constraints\.txt", text, re.DOTALL):
        problems.append("constraints.txt is not applied when present")
    return problems
