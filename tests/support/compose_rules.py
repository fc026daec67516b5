"""Rules that docker-compose.yaml and the Dockerfile must follow, checked without Docker.

Docker cannot run here, so these rules read both files and hold them to what the
containerised stack relies on: every service present and healthy-checked, start order
by condition, ports on 127.0.0.1 only, no secret in the file, state in named volumes,
one Airflow image with dbt in a venv of its own, and client and server agreeing on
every address and credential.

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
DOCKERFILE_PATH = ROOT / "Dockerfile"

# service -> the `airflow` subcommand it runs
AIRFLOW_COMPONENTS = {
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
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

    @classmethod
    def parse(cls, text: str) -> Compose:
        return cls(text=text, data=yaml.safe_load(text))

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.data.get("services") or {}

    def env(self, service: str) -> dict[str, str]:
        raw = self.services[service].get("environment") or {}
        if isinstance(raw, list):
            raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}


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

    for name in [*AIRFLOW_COMPONENTS, "airflow-init"]:
        if name in services and not {"postgres", "postgres-init"} <= waits_for(name):
            problems.append(f"{name} can start before PostgreSQL is provisioned")
    for name in AIRFLOW_COMPONENTS:
        spec = (services.get(name, {}).get("depends_on") or {}).get("airflow-init") or {}
        if spec.get("condition") != "service_completed_successfully":
            problems.append(f"{name} does not wait for airflow-init to complete")
    for name in ("airflow-scheduler", "airflow-triggerer"):
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
    problems += [
        f"{service} keeps {data_dir} outside a named volume: its data is lost on rm"
        for service, data_dir in DATA_DIRS.items()
        if not _is_named_volume(mounts.get(service, {}).get(data_dir, ""))
    ]
    problems += [f"volume {v} is declared but never mounted" for v in sorted(declared - used)]
    if "kafka" in compose.services and compose.env("kafka").get("KAFKA_LOG_DIRS") != DATA_DIRS["kafka"]:
        problems.append("KAFKA_LOG_DIRS is not the directory on the kafka-data volume")
    return problems


def airflow_image_problems(compose: Compose) -> list[str]:
    problems = []
    images = set()
    for name in [*AIRFLOW_COMPONENTS, "airflow-init", "kafka-init"]:
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
    for name in ("airflow-scheduler", "airflow-triggerer"):
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


def airflow_env_problems(compose: Compose) -> list[str]:
    problems = []
    required = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
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
    names = [n for n in [*AIRFLOW_COMPONENTS, "airflow-init"] if n in compose.services]
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
    return problems


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
    advertised = compose.env("kafka").get("KAFKA_ADVERTISED_LISTENERS", "")
    internal = {entry.split("://", 1)[1] for entry in advertised.split(",") if "://" in entry}
    for where, bootstrap in (
        ("kafka_default", extra.get("bootstrap.servers")),
        ("KAFKA_BOOTSTRAP_SERVERS", compose.env("airflow-scheduler").get("KAFKA_BOOTSTRAP_SERVERS")),
        ("kafka-init", compose.env("kafka-init").get("KAFKA_BOOTSTRAP_SERVERS")),
    ):
        if bootstrap not in internal or not str(bootstrap).startswith("kafka:"):
            problems.append(
                f"{where} bootstrap {bootstrap!r} is not the broker's advertised in-network address"
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


def kafka_problems(compose: Compose) -> list[str]:
    problems = []
    env = compose.env("kafka")
    if set(env.get("KAFKA_PROCESS_ROLES", "").split(",")) != {"broker", "controller"}:
        problems.append("kafka is not a combined KRaft node (broker,controller)")
    if not env.get("CLUSTER_ID"):
        problems.append("kafka has no CLUSTER_ID, which the image needs to format KRaft storage")
    if env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false":
        problems.append("kafka auto-creates topics: a misspelt topic would appear with 1 partition")
    listeners = dict(re.findall(r"(\w+)://[^:,]*:(\d+)", env.get("KAFKA_LISTENERS", "")))
    advertised = dict(re.findall(r"(\w+)://([^,]+)", env.get("KAFKA_ADVERTISED_LISTENERS", "")))
    published = [str(p) for p in compose.services.get("kafka", {}).get("ports") or []]
    host_side = [a for a in advertised.items() if a[1].startswith("127.0.0.1:")]
    if len(host_side) != 1:
        problems.append("kafka advertises no listener on 127.0.0.1 for clients on this machine")
    else:
        listener, address = host_side[0]
        host_port = address.split(":", 1)[1]
        if f"127.0.0.1:{host_port}:{listeners.get(listener)}" not in published:
            problems.append(
                f"kafka advertises {address} for {listener}, but publishes {published}: "
                "clients would be sent to a port nobody listens on"
            )
    for listener, address in advertised.items():
        if listener not in listeners:
            problems.append(f"kafka advertises {listener}, which it does not listen on")
        elif not address.startswith("127.0.0.1:") and address.rsplit(":", 1)[1] != listeners[listener]:
            problems.append(
                f"kafka advertises {address} for {listener}, which listens on {listeners[listener]}"
            )
    command = command_words(compose.services.get("kafka-init", {}))
    script = ROOT / "docker" / "airflow" / Path(command[-1] if command else "").name
    if not script.is_file() or "load_registry" not in script.read_text():
        problems.append("kafka-init does not create the topics of the topic registry")
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
