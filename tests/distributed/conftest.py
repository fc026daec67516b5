"""Fixtures of the fault tests on the distributed profile (STACK_PROFILE=distributed:
three Kafka brokers, Celery workers on Redis). `make test-distributed` starts that profile
and runs them; on the light profile they are skipped, and `make test` deselects them."""

from __future__ import annotations

import pytest

from kafka_elt.stack import clickhouse, postgres
from kafka_elt.stack.config import StackConfig


@pytest.fixture(scope="session")
def distributed(stack: StackConfig) -> StackConfig:
    if not stack.distributed:
        pytest.skip("needs STACK_PROFILE=distributed (`make test-distributed` starts it)")
    return stack


@pytest.fixture
def warehouses(distributed: StackConfig):
    """(PostgreSQL connection as the loader, ClickHouse client): the two engines."""
    pg = postgres.connect(
        distributed, distributed["WAREHOUSE_DB"], distributed["LOADER_USER"], distributed["LOADER_PASSWORD"]
    )
    ch = clickhouse.client(distributed)
    yield pg, ch
    pg.close()
    ch.close()
