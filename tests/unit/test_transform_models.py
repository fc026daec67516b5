"""transform.models: each model's outcome from the build, and the dbt_marts DAG wired
from the manifest (a build per engine, a task per model)."""

from __future__ import annotations

import os
from pathlib import Path

from kafka_elt.stack.config import StackConfig
from kafka_elt.transform.manifest import load_models
from kafka_elt.transform.models import model_outcome

ROOT = Path(__file__).resolve().parents[2]


def test_model_outcome_combines_the_model_and_its_tests():
    model, test = "model.p.m", "test.p.t"
    built = {"status": "success", "seconds": 0.2, "message": ""}
    results = {"select": ["source:kafka.x+"], "errors": ["dbt said why"], "nodes": {model: built}}

    ok = {**results, "nodes": {model: built, test: {"status": "pass", "seconds": 0.1}}}
    assert model_outcome(model, [test], ok)[0] == "success"

    warned = {**results, "nodes": {model: built, test: {"status": "warn", "seconds": 0.1, "message": "1"}}}
    outcome, lines = model_outcome(model, [test], warned)
    assert outcome == "success" and any("warn" in line for line in lines)

    failing = {
        **results,
        "nodes": {model: built, test: {"status": "fail", "seconds": 0.1, "message": "3 rows"}},
    }
    outcome, lines = model_outcome(model, [test], failing)
    assert outcome == "failed" and any("test.p.t: fail 3 rows" in line for line in lines)
    assert "  dbt: dbt said why" in lines

    broken = {**results, "nodes": {model: {"status": "error", "seconds": 0.0, "message": "syntax"}}}
    assert model_outcome(model, [test], broken)[0] == "failed"

    skipped = {**results, "nodes": {model: {"status": "skipped", "seconds": 0.0, "message": ""}}}
    assert model_outcome(model, [test], skipped)[0] == "skipped"

    outcome, lines = model_outcome(model, [test], {**results, "nodes": {}})
    assert outcome == "skipped" and "not selected" in lines[0]


def test_dbt_marts_dag_is_one_build_per_engine_and_a_task_per_model(dbt_manifest):
    os.environ.update(StackConfig.load().environment())
    from airflow.dag_processing.dagbag import DagBag

    from kafka_elt.transform.models import DbtModelOperator

    bag = DagBag(dag_folder=str(ROOT / "dags" / "dbt_marts.py"))
    assert bag.import_errors == {}
    dag = bag.dags["dbt_marts"]
    names = [m.name for m in load_models(dbt_manifest)]
    for target in ("postgres", "clickhouse"):
        build = dag.task_dict[f"{target}.build"]
        model_tasks = [dag.task_dict[f"{target}.{name}"] for name in names]
        for task in model_tasks:
            assert isinstance(task, DbtModelOperator)
            # No worker process: the task starts and ends in the triggerer.
            assert task.start_from_trigger is True
            assert task.start_trigger_args.trigger_kwargs["build_task_id"] == f"{target}.build"
            assert task.upstream_task_ids == {f"{target}.build"}
            assert str(task.trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")
        assert build.downstream_task_ids == {t.task_id for t in model_tasks}
    publish = dag.task_dict["publish_marts"]
    assert publish.upstream_task_ids == {f"{t}.{n}" for t in ("postgres", "clickhouse") for n in names}
    assert len(dag.tasks) == 2 * (len(names) + 1) + 1
