"""The distributed layout: docker-compose.yaml with docker-compose.distributed.yaml over it.

Docker cannot run here. The two files are merged as `docker compose -f ... -f ...` merges
them (``Compose.merged``; the merge itself is tested first), then every rule of
tests/support/compose_rules.py that the light layout follows must hold, plus those of
what this layout adds: the CeleryExecutor (Redis broker with a password, results in
PostgreSQL, two workers) and three KRaft brokers with replication factor 3 and
min.insync.replicas 2. Mutation tests break the override file one way each.

Not run here: the containers themselves (quorum forming, a Celery worker picking up a
task, a broker failing over).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable

import pytest

from tests.support.compose_rules import (
    COMPOSE_PATH,
    DISTRIBUTED_PATH,
    ROOT,
    Compose,
    airflow_command_problems,
    airflow_env_problems,
    airflow_image_problems,
    airflow_order_problems,
    celery_problems,
    connection_problems,
    credential_pairing_problems,
    dependency_problems,
    healthcheck_problems,
    kafka_cluster_problems,
    kafka_nodes,
    kafka_problems,
    layout_problems,
    merge_compose,
    missing_services,
    one_shot_services,
    port_problems,
    secret_problems,
    volume_problems,
)

Rule = Callable[[Compose], list[str]]
RULES: list[Rule] = [
    missing_services,
    healthcheck_problems,
    dependency_problems,
    airflow_order_problems,
    port_problems,
    secret_problems,
    volume_problems,
    airflow_image_problems,
    airflow_command_problems,
    airflow_env_problems,
    connection_problems,
    kafka_problems,
    kafka_cluster_problems,
    credential_pairing_problems,
    layout_problems,
    celery_problems,
]


@pytest.fixture(scope="module")
def base_text() -> str:
    return COMPOSE_PATH.read_text()


@pytest.fixture(scope="module")
def override_text() -> str:
    return DISTRIBUTED_PATH.read_text()


@pytest.fixture(scope="module")
def merged(base_text, override_text) -> Compose:
    return Compose.merged(base_text, override_text)


# --- the merge, as compose does it ---------------------------------------------------------


def test_merge_follows_compose_rules():
    base = {
        "services": {
            "a": {
                "image": "x:1",
                "command": ["run", "--one"],
                "environment": {"KEEP": "1", "CHANGE": "old"},
                "volumes": ["data:/data", "./conf:/conf:ro"],
                "ports": ["127.0.0.1:1:1"],
                "depends_on": {"b": {"condition": "service_healthy"}},
                "healthcheck": {"test": ["CMD", "old"], "interval": "5s"},
            }
        },
        "volumes": {"data": None},
    }
    override = {
        "services": {
            "a": {
                "command": ["run"],
                "environment": {"CHANGE": "new", "ADD": "2"},
                "volumes": ["other:/data"],
                "ports": ["127.0.0.1:2:2"],
                "depends_on": {"c": {"condition": "service_started"}},
                "healthcheck": {"test": ["CMD", "new"]},
            }
        },
        "volumes": {"other": None},
    }
    a = merge_compose(base, override)["services"]["a"]
    assert a["command"] == ["run"]  # replaced, not appended
    assert a["environment"] == {"KEEP": "1", "CHANGE": "new", "ADD": "2"}
    assert a["volumes"] == ["./conf:/conf:ro", "other:/data"]  # by container path
    assert a["ports"] == ["127.0.0.1:1:1", "127.0.0.1:2:2"]
    assert set(a["depends_on"]) == {"b", "c"}
    assert a["healthcheck"] == {"test": ["CMD", "new"], "interval": "5s"}
    assert a["image"] == "x:1"
    assert set(merge_compose(base, override)["volumes"]) == {"data", "other"}


# --- the real files pass every rule ----------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_distributed_layout_follows_rule(merged, rule):
    assert rule(merged) == []


@pytest.mark.parametrize(
    "rule", [layout_problems, kafka_cluster_problems, celery_problems], ids=lambda r: r.__name__
)
def test_light_layout_stays_light(base_text, rule):
    # Plain `docker compose up`: one broker, LocalExecutor, no Redis, project kafka-elt.
    assert rule(Compose.parse(base_text)) == []


def test_distributed_layout_shape(merged):
    assert kafka_nodes(merged) == ["kafka", "kafka-2", "kafka-3"]
    assert {"redis", "airflow-worker-1", "airflow-worker-2"} <= set(merged.services)
    assert one_shot_services(merged) == {"kafka-init", "postgres-init", "airflow-init"}
    assert {
        merged.env(n)["AIRFLOW__CORE__EXECUTOR"] for n in merged.services if n.startswith("airflow-")
    } == {"CeleryExecutor"}
    assert merged.env("kafka-init")["KAFKA_REPLICATION_FACTOR"] == "3"
    assert merged.env("kafka-init")["KAFKA_MIN_INSYNC_REPLICAS"] == "2"


def test_producers_wait_for_all_in_sync_replicas():
    # min.insync.replicas=2 protects a write only if the producer waits for the ISR.
    from kafka_elt.producers.kafka import THROUGHPUT_CONFIG
    from kafka_elt.producers.middleware import LATENCY_CONFIG

    for config in (THROUGHPUT_CONFIG, LATENCY_CONFIG):
        assert config["acks"] == "all"
        assert config["enable.idempotence"] is True


# --- and each rule notices when the override is broken ---------------------------------------


OVERRIDE_MUTATIONS: list[tuple[str, str, str, Rule]] = [
    (
        "executor left local",
        "AIRFLOW__CORE__EXECUTOR: CeleryExecutor",
        "AIRFLOW__CORE__EXECUTOR: LocalExecutor",
        airflow_env_problems,
    ),
    ("one worker only", "  airflow-worker-2:\n", "  airflow-worker-x:\n", layout_problems),
    (
        "shares the light project's volumes",
        "name: kafka-elt-distributed",
        "name: kafka-elt",
        layout_problems,
    ),
    (
        "broker without password",
        "redis://default:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@redis:6379/0",
        "redis://redis:6379/0",
        celery_problems,
    ),
    (
        "results in Redis",
        "AIRFLOW__CELERY__RESULT_BACKEND: db+postgresql://",
        "AIRFLOW__CELERY__RESULT_BACKEND: redis://",
        celery_problems,
    ),
    (
        "Redis without requirepass",
        "redis-server --requirepass",
        "redis-server --protected-mode",
        celery_problems,
    ),
    (
        "defaulted Redis password",
        "REDIS_PASSWORD: ${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}\n    expose",
        "REDIS_PASSWORD: ${REDIS_PASSWORD:-redis}\n    expose",
        secret_problems,
    ),
    (
        "Redis published on the host",
        '    expose:\n      - "6379"',
        '    ports:\n      - "6379:6379"',
        port_problems,
    ),
    (
        "scheduler does not wait for Redis",
        "  airflow-scheduler:\n    environment: *airflow-distributed-env\n    depends_on:\n      redis:",
        "  airflow-scheduler:\n    environment: *airflow-distributed-env\n    depends_on:\n      postgres:",
        celery_problems,
    ),
    (
        "worker serves logs on all interfaces",
        'command: ["celery", "worker", "--skip-serve-logs"]',
        'command: ["celery", "worker"]',
        airflow_command_problems,
    ),
    (
        "worker runs something else",
        'command: ["celery", "worker", "--skip-serve-logs"]',
        'command: ["celery", "flower", "--skip-serve-logs"]',
        airflow_command_problems,
    ),
    (
        "worker with a different DB password",
        "    AIRFLOW__CORE__FERNET_KEY: ${AIRFLOW_FERNET_KEY:?set AIRFLOW_FERNET_KEY in .env}\n",
        "    AIRFLOW__CORE__FERNET_KEY: ${OTHER_FERNET_KEY:?set OTHER_FERNET_KEY in .env}\n",
        airflow_env_problems,
    ),
    (
        "worker misses a dbt setting",
        '    DBT_CLICKHOUSE_PORT: "8123"\n',
        "",
        airflow_env_problems,
    ),
    (
        "worker without warm shutdown",
        'DUMB_INIT_SETSID: "0"',
        'DUMB_INIT_SETSID: "1"',
        celery_problems,
    ),
    (
        "worker starts before the topics exist",
        "    kafka-init:\n      condition: service_completed_successfully\n    clickhouse:",
        "    clickhouse:",
        airflow_order_problems,
    ),
    (
        "worker without healthcheck",
        '  healthcheck:\n    test: ["CMD-SHELL", \'celery',
        '  healthcheck:\n    disable: true\n    x-test: ["CMD-SHELL", \'celery',
        healthcheck_problems,
    ),
    ("a broker missing", "  kafka-3:\n", "  kafka-three:\n", kafka_cluster_problems),
    (
        "a broker outside the quorum",
        "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093",
        "1@kafka:9093,2@kafka-2:9093",
        kafka_cluster_problems,
    ),
    ("two nodes with one id", "KAFKA_NODE_ID: 3", "KAFKA_NODE_ID: 2", kafka_cluster_problems),
    (
        "a second cluster id",
        "      <<: *kafka-cluster-env\n      KAFKA_NODE_ID: 3",
        "      <<: *kafka-cluster-env\n      CLUSTER_ID: MkU3OEVBNTcwNTJENDM2Qg\n      KAFKA_NODE_ID: 3",
        kafka_cluster_problems,
    ),
    (
        "offsets on one replica",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 3",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 1",
        kafka_cluster_problems,
    ),
    (
        "a write counts with one in-sync replica",
        "  KAFKA_MIN_INSYNC_REPLICAS: 2\n",
        "  KAFKA_MIN_INSYNC_REPLICAS: 1\n",
        kafka_cluster_problems,
    ),
    (
        "topics created with one replica",
        "      KAFKA_REPLICATION_FACTOR: 3\n",
        "      KAFKA_REPLICATION_FACTOR: 1\n",
        kafka_cluster_problems,
    ),
    (
        "clients bootstrap from one broker",
        "  KAFKA_BOOTSTRAP_SERVERS: kafka:19092,kafka-2:19092,kafka-3:19092\n",
        "  KAFKA_BOOTSTRAP_SERVERS: kafka:19092\n",
        kafka_cluster_problems,
    ),
    (
        "bootstrap names a host that is no broker",
        '"bootstrap.servers": "kafka:19092,kafka-2:19092,kafka-3:19092"',
        '"bootstrap.servers": "kafka:19092,kafka-2:19092,kafka-4:19092"',
        connection_problems,
    ),
    (
        "a broker advertises another's address",
        "INTERNAL://kafka-3:19092,HOST",
        "INTERNAL://kafka-2:19092,HOST",
        kafka_problems,
    ),
    (
        "advertised host port differs from the published one",
        "HOST://127.0.0.1:${KAFKA_3_PORT:-9095}",
        "HOST://127.0.0.1:9096",
        kafka_problems,
    ),
    (
        "two brokers on one volume",
        "      - kafka-3-data:/var/lib/kafka/data",
        "      - kafka-2-data:/var/lib/kafka/data",
        volume_problems,
    ),
    (
        "broker published on every interface",
        '"127.0.0.1:${KAFKA_2_PORT:-9094}:9092"',
        '"${KAFKA_2_PORT:-9094}:9092"',
        port_problems,
    ),
    (
        "Redis password not given to Redis",
        "      REDIS_PASSWORD: ${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}\n    expose",
        "      REDIS_PASS: ${REDIS_PASSWORD:-x}\n    expose",
        credential_pairing_problems,
    ),
]


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"mutation target not found: {old!r}"
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [pytest.param(old, new, rule, id=label) for label, old, new, rule in OVERRIDE_MUTATIONS],
)
def test_rule_catches_broken_override(base_text, override_text, merged, old, new, rule):
    broken = Compose.merged(base_text, _replace(override_text, old, new))
    assert rule(merged) == []
    assert rule(broken), f"{rule.__name__} did not notice"


# --- kafka-init creates topics for the layout it runs in -------------------------------------


def _create_topics():
    """docker/airflow/create_topics.py, a script rather than a package module."""
    name = "docker_create_topics"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "docker" / "airflow" / "create_topics.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_kafka_init_durability_follows_the_layout(merged, base_text):
    ct = _create_topics()
    light = ct.Durability.from_env(Compose.parse(base_text).env("kafka-init"))
    distributed = ct.Durability.from_env(merged.env("kafka-init"))
    assert (light.replication_factor, light.topic_config()) == (1, {})
    assert (distributed.replication_factor, distributed.topic_config()) == (3, {"min.insync.replicas": "2"})

    [topic] = ct.new_topics({"a": 3, "b": 3}, {"b"}, distributed)
    assert (topic.topic, topic.num_partitions, topic.replication_factor) == ("a", 3, 3)
    assert topic.config == {"min.insync.replicas": "2"}


def test_kafka_init_stops_on_a_topic_with_too_few_replicas_or_partitions():
    ct = _create_topics()
    three = ct.Durability(replication_factor=3, min_insync_replicas=2)
    assert ct.topic_problems("t", 3, [3, 3, 3], three, "kafka:19092") == []
    [replicas] = ct.topic_problems("t", 3, [3, 1, 3], three, "kafka:19092")
    assert "1 replica(s)" in replicas and "asks for 3" in replicas
    [partitions] = ct.topic_problems("t", 3, [3, 3], three, "kafka:19092")
    assert "2 partitions" in partitions and "--partitions 3" in partitions
    assert len(ct.topic_problems("t", 3, [], three, "kafka:19092")) == 1  # missing topic
    assert ct.topic_problems("t", 3, [1, 1, 1], ct.Durability(), "kafka:19092") == []
