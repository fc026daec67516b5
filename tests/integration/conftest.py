"""Fixtures of the integration tests: the broker's address, the pipeline's own DAGs
unpaused, and sandboxes (a private topic, consumer group and raw schema each, dropped
afterwards; see tests/support/sandbox.py)."""

from __future__ import annotations

import pytest

from kafka_elt.stack.config import StackConfig
from tests.support.pipeline import DELIVERY_TIMEOUT_S, unpaused_pipeline, wait_quiet
from tests.support.sandbox import open_sandbox


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackConfig) -> str:
    return stack.kafka_bootstrap


@pytest.fixture
def candles(stack, kafka_bootstrap):
    """A candle topic with three partitions."""
    box = open_sandbox("market_candle", kafka_bootstrap, partitions=3)
    yield box
    box.close()


@pytest.fixture
def single_partition(stack, kafka_bootstrap):
    """A candle topic with one partition: offsets in one sequence."""
    box = open_sandbox("market_candle", kafka_bootstrap, partitions=1)
    yield box
    box.close()


@pytest.fixture
def web_logs(stack, kafka_bootstrap):
    """A page-visit topic with three partitions."""
    box = open_sandbox("footprint", kafka_bootstrap, partitions=3)
    yield box
    box.close()


@pytest.fixture(scope="module")
def pipeline_api(stack):
    """The Airflow API with the pipeline's DAGs unpaused (event-driven). Afterwards it waits
    until no run of the module is still going, so the next module starts on a quiet stack."""
    api = unpaused_pipeline(stack)
    yield api
    wait_quiet(api, DELIVERY_TIMEOUT_S)
