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
    # Few tasks: each is a process start, the fixed cost of a run.
    assert set(tasks) == {"plan", "drain", "publish"}
    assert tasks["drain"].upstream_task_ids == {"plan"}
    assert tasks["publish"].upstream_task_ids == {"drain"}
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(tasks["drain"], MappedOperator)  # one task instance per partition
    assert tasks["drain"].execution_timeout > timedelta(seconds=spec.max_seconds)
    outlets = {(a.name, a.uri) for a in tasks["publish"].outlets}
    assert outlets == {
        (f"postgres.raw.{spec.table}", f"x-kafka-elt://postgres/raw/{spec.table}"),
        (f"clickhouse.raw.{spec.table}", f"x-kafka-elt://clickhouse/raw/{spec.table}"),
    }
    for task in dag.tasks:
        assert task.retries >= 1 and task.owner == "data-platform"
    # A killed drain is explained in the project's words (memory or not), not Airflow's guess.
    from kafka_elt.ingest.kill_report import report_killed_try

    assert tasks["drain"].on_retry_callback is report_killed_try
    assert tasks["drain"].on_failure_callback is report_killed_try


def test_raw_assets_are_what_the_dbt_dag_schedules_on(dags):
    from kafka_elt.assets import RAW_ASSETS

    emitted = {a.uri for dag in dags.values() for a in dag.task_dict["publish"].outlets}
    assert emitted == {a.uri for a in RAW_ASSETS}


@pytest.mark.parametrize("spec", load_registry(), ids=lambda s: s.dag_id)
def test_runs_start_on_the_topic_watcher_or_the_safety_clock(dags, spec):
    from airflow.sdk import Asset, AssetOrTimeSchedule

    from kafka_elt.ingest.watcher import KafkaLagTrigger

    assert spec.watch and spec.schedule
    timetable = dags[spec.dag_id].timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    asset = timetable.asset_condition
    assert isinstance(asset, Asset)
    assert asset.name == f"kafka.{spec.topic}"
    (watcher,) = asset.watchers
    trigger = watcher.trigger
    assert isinstance(trigger, KafkaLagTrigger)
    assert (trigger.topic, trigger.poll_interval, trigger.debounce) == (
        spec.topic,
        spec.watch_interval_seconds,
        spec.debounce_seconds,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "kafka_elt.ingest.watcher.KafkaLagTrigger"
    assert KafkaLagTrigger(**kwargs).serialize() == (classpath, kwargs)
