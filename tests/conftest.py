"""Shared fixtures. Integration tests talk to the real local stack (Kafka, PostgreSQL,
ClickHouse, Airflow); `make test` starts it, and the ``stack`` fixture starts whatever
is not running yet, so `pytest` alone works too."""

from __future__ import annotations

import os

import pytest

from kafka_elt.stack.config import StackConfig


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


@pytest.fixture(autouse=True, scope="module")
def _airflow_components_restarted(stack_config: StackConfig):
    """Airflow's components running before each test module, once the stack is up.

    The local stack has no process supervisor yet: a component that exits (the scheduler
    has been seen to exit on a metadata-database deadlock while a test's ``dag.test()``
    and the scheduler both scheduled a run) would fail every later test that needs it.
    Restarting it here is what the ``stack`` fixture does for a stopped stack, module by
    module; the exit stays visible in the warning and the component's log."""
    import warnings

    from kafka_elt.stack import airflow, postgres

    services = airflow.services(stack_config)
    if not postgres.service(stack_config).is_running():  # no stack: unit tests only
        yield
        return
    for svc in services:
        if svc.pid() is None:
            warnings.warn(f"{svc.name} had exited; restarting it (see {svc.log_file})", stacklevel=1)
            svc.start()
    yield


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


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackConfig) -> str:
    return stack.kafka_bootstrap
