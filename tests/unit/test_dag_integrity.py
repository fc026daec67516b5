"""Every DAG file imports cleanly and follows the project's DAG conventions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kafka_elt.stack import dbt
from kafka_elt.stack.config import StackConfig

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    cfg = StackConfig.load()
    os.environ.update(cfg.environment())
    dbt.ensure_manifest(cfg)  # the dbt DAG renders from the manifest
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))  # examples are off through AIRFLOW__CORE__LOAD_EXAMPLES


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_exist(dagbag):
    assert {"ingest_market_candle", "ingest_web_logs", "dbt_marts", "dashboard_benchmark"} <= set(
        dagbag.dag_ids
    )


def test_conventions(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.catchup is False, f"{dag_id} must set catchup=False"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.start_date is not None and dag.start_date.tzinfo is not None
        for t in dag.tasks:
            # A dbt model's task reports the outcome of its target's build task, which is
            # the one that retries; re-reading the same outcome would change nothing.
            if type(t).__name__ != "DbtModelOperator":
                assert t.retries >= 1, f"{dag_id}.{t.task_id} has no retries"
            assert t.owner and t.owner != "airflow", f"{dag_id}.{t.task_id} has the default owner"


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_file_runs_standalone(dag_file):
    """`python dags/<file>.py` works: what the dag-processor does, in a fresh interpreter.
    (Parse times are printed by bench/dag_parse_times.py, not asserted here.)"""
    env = {**os.environ, **StackConfig.load().environment()}
    result = subprocess.run([sys.executable, str(DAGS / dag_file)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
