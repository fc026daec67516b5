"""docker-compose.yaml and the Dockerfile hold to the rules of tests/support/compose_rules.py.

The real files pass every rule; then the mutation tests break a copy of a file in one
way each and assert that the matching rule notices, so that no rule passes vacuously.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise

import pytest

from tests.support.compose_rules import (
    COMPOSE_PATH,
    DOCKERFILE_PATH,
    EMBEDDED_CREDENTIALS,
    EXPECTED_TOPICS,
    REQUIRED_MARK,
    VAR_REF,
    Compose,
    airflow_command_problems,
    airflow_env_problems,
    airflow_image_problems,
    airflow_order_problems,
    command_words,
    connection_problems,
    credential_pairing_problems,
    dependency_problems,
    dockerfile_problems,
    healthcheck_problems,
    kafka_problems,
    mask_references,
    missing_services,
    one_shot_services,
    port_problems,
    secret_problems,
    strings_in,
    volume_problems,
)


@pytest.fixture(scope="module")
def compose() -> Compose:
    return Compose.parse(COMPOSE_PATH.read_text())


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE_PATH.read_text()


# --- the real files pass every rule -------------------------------------------------------


def test_compose_file_parses_with_services(compose):
    assert missing_services(compose) == []


def test_long_running_services_have_healthchecks(compose):
    assert one_shot_services(compose) == {"kafka-init", "postgres-init", "airflow-init"}
    assert healthcheck_problems(compose) == []


def test_dependencies_exist_with_conditions_and_no_cycles(compose):
    assert dependency_problems(compose) == []


def test_airflow_starts_after_its_database_and_topics(compose):
    assert airflow_order_problems(compose) == []


def test_published_ports_bind_loopback_only(compose):
    assert port_problems(compose) == []


def test_no_secret_is_written_into_the_compose_file(compose):
    assert secret_problems(compose) == []
    # The embedded-credential patterns do see the real file's credentials (as references).
    seen = [
        found
        for text in strings_in(compose.data)
        for pattern in EMBEDDED_CREDENTIALS
        for found in pattern.findall(mask_references(text))
    ]
    assert seen.count(REQUIRED_MARK) >= 3, seen  # DB URL, and two JSON connections


def test_state_lives_in_declared_named_volumes(compose):
    assert volume_problems(compose) == []


def test_airflow_services_share_one_image_built_here(compose):
    assert airflow_image_problems(compose) == []


def test_airflow_components_and_init(compose):
    assert airflow_command_problems(compose) == []


def test_airflow_settings_match_the_local_stack(compose):
    assert airflow_env_problems(compose) == []


def test_connections_point_at_the_compose_services(compose):
    assert connection_problems(compose) == []


def test_kafka_is_kraft_with_consistent_listeners(compose):
    assert kafka_problems(compose) == []


def test_clients_and_servers_share_credentials(compose):
    assert credential_pairing_problems(compose) == []


def test_dockerfile_installs_airflow_and_a_separate_dbt_venv(dockerfile, compose):
    assert dockerfile_problems(dockerfile, compose) == []


def test_kafka_init_creates_the_pipeline_topics():
    from kafka_elt.ingest.registry import load_registry

    topics = {spec.topic: spec.partitions for spec in load_registry()}
    assert {t: topics.get(t) for t in EXPECTED_TOPICS} == EXPECTED_TOPICS


def test_interpolated_connections_survive_url_safe_passwords(compose):
    # What airflow-init allows (letters, digits, - _ . ~) must keep the JSON and URL intact.
    value = compose.env("airflow-scheduler")["AIRFLOW_CONN_WAREHOUSE_POSTGRES"]
    rendered = VAR_REF.sub(lambda m: m.group(3) if m.group(2) == ":-" else "Ab-9_x.y~z", value)
    assert json.loads(rendered)["password"] == "Ab-9_x.y~z"


# --- and each rule notices when the file is broken ----------------------------------------

Rule = Callable[[Compose], list[str]]


def _replace(text: str, old: str, new: str) -> str:
    # A mutation whose target text has gone would test nothing: fail instead.
    assert old in text, f"mutation target not found: {old!r}"
    return text.replace(old, new, 1)


COMPOSE_MUTATIONS: list[tuple[str, str, str, Rule]] = [
    ("drop the triggerer", "  airflow-triggerer:\n", "  airflow-triggerer-old:\n", missing_services),
    (
        "no healthcheck on clickhouse",
        '      test: ["CMD", "wget"',
        '      disable: true\n      x-test: ["CMD", "wget"',
        healthcheck_problems,
    ),
    (
        "depend on a service that does not exist",
        "      kafka-init:\n        condition: service_completed_successfully\n      clickhouse:",
        "      kafka-setup:\n        condition: service_completed_successfully\n      clickhouse:",
        dependency_problems,
    ),
    (
        "dependency without a condition",
        "      postgres-init:\n        condition: service_completed_successfully",
        "      postgres-init: {}",
        dependency_problems,
    ),
    (
        "wait for health of a service without healthcheck",
        "      postgres-init:\n        condition: service_completed_successfully",
        "      postgres-init:\n        condition: service_healthy",
        dependency_problems,
    ),
    (
        "dependency cycle",
        "    depends_on:\n      postgres:\n        condition: service_healthy\n\n  clickhouse:",
        "    depends_on:\n      postgres:\n        condition: service_healthy\n      airflow-init:\n"
        "        condition: service_completed_successfully\n\n  clickhouse:",
        dependency_problems,
    ),
    (
        "airflow-init no longer waits for provisioning",
        "    depends_on:\n      postgres-init:\n        condition: service_completed_successfully",
        "    depends_on:\n      clickhouse:\n        condition: service_healthy",
        airflow_order_problems,
    ),
    (
        "publish Airflow on every interface",
        '"127.0.0.1:${AIRFLOW_PORT:-8080}:8080"',
        '"${AIRFLOW_PORT:-8080}:8080"',
        port_problems,
    ),
    (
        "publish PostgreSQL on 0.0.0.0",
        '"127.0.0.1:${POSTGRES_PORT:-5433}:5432"',
        '"0.0.0.0:${POSTGRES_PORT:-5433}:5432"',
        port_problems,
    ),
    (
        "literal PostgreSQL password",
        "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}",
        "POSTGRES_PASSWORD: postgres",
        secret_problems,
    ),
    (
        "defaulted secret",
        "${AIRFLOW_JWT_SECRET:?set AIRFLOW_JWT_SECRET in .env}",
        "${AIRFLOW_JWT_SECRET:-change-me}",
        secret_problems,
    ),
    (
        "literal password inside a JSON connection",
        '"password": "${LOADER_PASSWORD:?set LOADER_PASSWORD in .env}"',
        '"password": "loader"',
        secret_problems,
    ),
    (
        "bare reference, no error when unset",
        '"password": "${LOADER_PASSWORD:?set LOADER_PASSWORD in .env}"',
        '"password": "${LOADER_PASSWORD}"',
        secret_problems,
    ),
    (
        "literal password inside the metadata DB URL",
        ":${AIRFLOW_DB_PASSWORD:?set AIRFLOW_DB_PASSWORD in .env}@postgres",
        ":airflow@postgres",
        secret_problems,
    ),
    (
        "postgres data in the container layer",
        "      - postgres-data:/var/lib/postgresql/data\n",
        "      - postgres-data:/var/lib/postgresql/other\n",
        volume_problems,
    ),
    ("undeclared volume", "  clickhouse-data:\n  airflow-logs:", "  airflow-logs:", volume_problems),
    (
        "Airflow service on a stock image",
        "  airflow-dag-processor:\n    <<: *airflow-common\n",
        "  airflow-dag-processor:\n    <<: *airflow-common\n    build: ./elsewhere\n",
        airflow_image_problems,
    ),
    (
        "scheduler serves logs on all interfaces",
        'command: ["scheduler", "--skip-serve-logs"]',
        'command: ["scheduler"]',
        airflow_command_problems,
    ),
    (
        "dag-processor runs something else",
        "command: dag-processor",
        "command: scheduler",
        airflow_command_problems,
    ),
    (
        "examples on",
        'AIRFLOW__CORE__LOAD_EXAMPLES: "False"',
        'AIRFLOW__CORE__LOAD_EXAMPLES: "True"',
        airflow_env_problems,
    ),
    (
        "dbt telemetry on",
        'DBT_SEND_ANONYMOUS_USAGE_STATS: "False"',
        'DBT_SEND_ANONYMOUS_USAGE_STATS: "True"',
        airflow_env_problems,
    ),
    (
        "the ClickHouse cluster setting not passed on",
        "    CLICKHOUSE_CLUSTER: ${CLICKHOUSE_CLUSTER:-}\n",
        "",
        airflow_env_problems,
    ),
    (
        "api-server with its own JWT secret",
        '      AIRFLOW__API__PORT: "8080"\n',
        '      AIRFLOW__API__PORT: "8080"\n      AIRFLOW__API_AUTH__JWT_SECRET: ${OTHER_SECRET:?x}\n',
        airflow_env_problems,
    ),
    (
        "execution API on a service that is not the api-server",
        "http://airflow-api-server:8080/execution/",
        "http://airflow-scheduler:8080/execution/",
        airflow_env_problems,
    ),
    (
        "broken JSON in a connection",
        '"schema": "${WAREHOUSE_DB:-warehouse}"}',
        '"schema": "${WAREHOUSE_DB:-warehouse}"',
        connection_problems,
    ),
    ("auto-commit on", '"enable.auto.commit": false', '"enable.auto.commit": true', connection_problems),
    (
        "bootstrap on the host listener",
        '"bootstrap.servers": "kafka:19092"',
        '"bootstrap.servers": "127.0.0.1:9092"',
        connection_problems,
    ),
    ("ClickHouse over the native port", '"port": 8123', '"port": 9000', connection_problems),
    (
        "advertised host port differs from the published one",
        "HOST://127.0.0.1:${KAFKA_PORT:-9092}",
        "HOST://127.0.0.1:9094",
        kafka_problems,
    ),
    (
        "ZooKeeper-era broker only",
        "KAFKA_PROCESS_ROLES: broker,controller",
        "KAFKA_PROCESS_ROLES: broker",
        kafka_problems,
    ),
    (
        "auto-created topics",
        'KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false"',
        'KAFKA_AUTO_CREATE_TOPICS_ENABLE: "true"',
        kafka_problems,
    ),
    (
        "ClickHouse password from another variable",
        "CLICKHOUSE_PASSWORD: ${CLICKHOUSE_PASSWORD:?set CLICKHOUSE_PASSWORD in .env}\n      CLICKHOUSE_DEFAULT",
        "CLICKHOUSE_PASSWORD: ${CH_PASSWORD:?set CH_PASSWORD in .env}\n      CLICKHOUSE_DEFAULT",
        credential_pairing_problems,
    ),
    (
        "loader role password not provisioned",
        "      LOADER_PASSWORD: ${LOADER_PASSWORD:?set LOADER_PASSWORD in .env}\n      DBT_USER",
        "      DBT_USER",
        credential_pairing_problems,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [pytest.param(old, new, rule, id=label) for label, old, new, rule in COMPOSE_MUTATIONS],
)
def test_rule_catches_broken_compose_file(compose, old, new, rule):
    broken = Compose.parse(_replace(compose.text, old, new))
    assert rule(compose) == []
    assert rule(broken), f"{rule.__name__} did not notice"


DOCKERFILE_MUTATIONS = [
    ("other Airflow version", "apache/airflow:3.3.2-python3.11", "apache/airflow:3.1.0-python3.11"),
    ("other Python", "apache/airflow:3.3.2-python3.11", "apache/airflow:3.3.2-python3.12"),
    ("requirements not installed", "pip install --no-cache-dir -r requirements-image.txt", "true"),
    ("no dbt venv", "python -m venv /opt/dbt-venv", "mkdir -p /opt/dbt-venv"),
    (
        "dbt into Airflow's environment",
        "PIP_USER=false /opt/dbt-venv/bin/pip install",
        "pip install",
    ),
    ("dags not copied", "COPY --chown=airflow:0 dags/ /opt/airflow/dags/", "RUN true"),
    ("no manifest", "/opt/dbt-venv/bin/dbt parse", "/opt/dbt-venv/bin/dbt debug"),
    ("constraints ignored", "set -- -c constraints.txt", "set --"),
]


@pytest.mark.parametrize(
    ("old", "new"), [pytest.param(old, new, id=label) for label, old, new in DOCKERFILE_MUTATIONS]
)
def test_rule_catches_broken_dockerfile(dockerfile, compose, old, new):
    assert dockerfile_problems(dockerfile, compose) == []
    assert dockerfile_problems(_replace(dockerfile, old, new), compose)


# Server settings the figures in bench/README.md were measured with: the compose file's
# PostgreSQL must run with the local stack's (kafka_elt/stack/postgres.py). The rest of
# the stack's -c settings (addresses, socket, memory) are the machine's own.
_SHARED_POSTGRES_SETTINGS = ("jit", "random_page_cost", "wal_level", "max_wal_senders")


def _server_settings(command: list[str]) -> dict[str, str]:
    pairs = [value for flag, value in pairwise(command) if flag == "-c"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_compose_postgres_runs_with_the_local_stacks_server_settings(compose, root):
    from kafka_elt.stack import postgres
    from kafka_elt.stack.config import StackConfig

    stack = _server_settings(postgres.service(StackConfig.load(root)).command)
    docker = _server_settings(command_words(compose.services["postgres"]))
    assert {k: stack.get(k) for k in _SHARED_POSTGRES_SETTINGS} == {
        k: docker.get(k) for k in _SHARED_POSTGRES_SETTINGS
    }
    # Minimal WAL: the tables dbt creates are written without WAL (dbt/README.md, "At volume").
    assert (stack["wal_level"], stack["max_wal_senders"]) == ("minimal", "0")
