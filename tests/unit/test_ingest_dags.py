"""The generated ingestion DAGs: one per registry topic, wired as documented."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from kafka_elt.ingest.registry import load_registry
from kafka_elt.stack.config import StackConfig

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "kafka_ingest.py"


@pytest.fixture(scope="module")
def dags():
    os.environ.update(StackConfig.load().environment())
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags


def test_one_dag_per_registry_topic(dags):
    assert (
        set(dags) == {spec.dag_id for spec in load_registry()} == {"ingest_market_candle", "ingest_web_logs"}
    )


@pytest.mark.parametrize("spec", load_registry(), ids=lambda s: s.dag_id)
def test_dag_shape(dags, spec):
    dag = dags[spec.dag_id]
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.start_date.utcoffset() == timedelta(0)
    assert f"topic:{spec.topic}" in dag.tags and "ingestion" in dag.tags
    assert "kafka_ingest.py" in dag.doc_md and "Why the DAG id is not the file name" in dag.doc_md
    tasks = dag.task_dict
    assert set(tasks) == {"apply_ddl", "list_partitions", "drain", "summarize", "publish_assets"}
    assert tasks["list_partitions"].upstream_task_ids == {"apply_ddl"}
    assert tasks["drain"].upstream_task_ids == {"list_partitions"}
    assert tasks["summarize"].upstream_task_ids == {"drain"}
    assert tasks["publish_assets"].upstream_task_ids == {"summarize"}
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(tasks["drain"], MappedOperator)  # one task instance per partition
    assert tasks["drain"].execution_timeout > timedelta(seconds=spec.max_seconds)
    outlets = {(a.name, a.uri) for a in tasks["publish_assets"].outlets}
    assert outlets == {
        (f"postgres.raw.{spec.table}", f"x-kafka-elt://postgres/raw/{spec.table}"),
        (f"clickhouse.raw.{spec.table}", f"x-kafka-elt://clickhouse/raw/{spec.table}"),
    }
    for task in dag.tasks:
        assert task.retries >= 1 and task.owner == "data-platform"


def test_raw_assets_are_what_the_dbt_dag_schedules_on(dags):
    from kafka_elt.assets import RAW_ASSETS

    emitted = {a.uri for dag in dags.values() for a in dag.task_dict["publish_assets"].outlets}
    assert emitted == {a.uri for a in RAW_ASSETS}
