"""Shared fixtures, and markers by folder. Integration tests talk to the real local stack
(Kafka, PostgreSQL, ClickHouse, Airflow); `make test` starts it, and the ``stack``
fixture starts whatever is not running yet, so `pytest` alone works too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kafka_elt.stack.config import StackConfig

TESTS = Path(__file__).resolve().parent
# A test's folder says what it needs, so no test file has to: browser tests drive the
# Airflow UI of the real stack, hence are integration tests too.
FOLDER_MARKERS = {
    "integration": ("integration",),
    "browser": ("integration", "browser"),
    # Faults on the distributed profile (three brokers, Celery workers): `make test-distributed`.
    "distributed": ("integration", "distributed"),
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        for marker in FOLDER_MARKERS.get(item.path.relative_to(TESTS).parts[0], ()):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return StackConfig.load()


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig) -> StackConfig:
    """The running stack, its environment (AIRFLOW_CONN_*, DBT_*) exported to os.environ."""
    from kafka_elt.stack.__main__ import ORDER, up

    up(stack_config, list(ORDER))
    os.environ.update(stack_config.environment())
    return stack_config


@pytest.fixture
def pg_conn(stack: StackConfig):
    """psycopg2 connection to the warehouse as the loader role (what Airflow uses)."""
    from kafka_elt.stack import postgres

    conn = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    yield conn
    conn.close()


@pytest.fixture
def ch_client(stack: StackConfig):
    """clickhouse_connect client to the local ClickHouse as the pipeline's user."""
    from kafka_elt.stack import clickhouse

    client = clickhouse.client(stack)
    yield client
    client.close()
