"""dbt in Airflow: the manifest's models, the build's selection and results, each model's
outcome, and the dbt_marts DAG wired from them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kafka_elt.stack.config import StackConfig
from kafka_elt.transform.build import BuildResult, _record, dbt_command, parse_events, selection_for
from kafka_elt.transform.manifest import ManifestError, load_models
from kafka_elt.transform.models import model_outcome

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "dbt" / "target" / "manifest.json"


@pytest.fixture(scope="module")
def manifest() -> Path:
    if not MANIFEST.exists():
        from kafka_elt.stack import dbt

        dbt.ensure_manifest(StackConfig.load())
    return MANIFEST


def test_models_with_their_lineage_and_tests(manifest):
    models = {m.name: m for m in load_models(manifest)}
    assert set(models) >= {
        "stg_kafka__market_candles",
        "int_market_candle_partition_heads",
        "market_candle",
        "user_footprint",
        "latest_price",
        "mart_checksums",
    }
    candle = models["market_candle"]
    assert candle.depends_on == ("model.kafka_elt.int_market_candle_partition_heads",)
    assert "unit_test.kafka_elt.market_candle.market_candle_newest_partition_wins" in candle.tests
    assert any("unique_combination_of_columns_market_candle" in t for t in candle.tests)
    assert models["stg_kafka__market_candles"].sources == ("kafka.market_candle",)
    # A relationships test belongs to the child model whose column it checks.
    relationship = [t for t in models["latest_price"].tests if t.startswith("test.kafka_elt.relationships_")]
    assert relationship and not any(t in models["market_candle"].tests for t in relationship)


def test_missing_manifest_says_how_to_make_it(tmp_path):
    with pytest.raises(ManifestError, match="dbt parse"):
        load_models(tmp_path / "manifest.json")


def test_selection_follows_the_changed_raw_tables_of_the_engine():
    changed = ["postgres.raw.web_logs", "clickhouse.raw.web_logs", "clickhouse.raw.market_candle"]
    assert selection_for("postgres", "raw", changed) == [
        "source:kafka.web_logs+",
        "source:kafka.dead_letter+",
    ]
    assert selection_for("clickhouse", "raw", changed) == [
        "source:kafka.market_candle+",
        "source:kafka.web_logs+",
        "source:kafka.dead_letter+",
    ]
    assert selection_for("postgres", "raw", []) == []  # a manual run builds everything


def test_dbt_command_keeps_each_target_in_its_own_folder():
    command = dbt_command("dbt", Path("/p"), "clickhouse", ["source:kafka.web_logs+"])
    assert command[:5] == ["dbt", "--log-format", "json", "--no-use-colors", "build"]
    assert command[command.index("--target-path") + 1] == "/p/target/clickhouse"
    assert command[command.index("--select") + 1 :] == ["source:kafka.web_logs+"]
    assert "--no-write-json" in command
    assert command[command.index("--exclude-resource-type") + 1] == "unit_test"


def _event(name: str, level: str = "info", msg: str = "", **data) -> str:
    return json.dumps({"info": {"name": name, "level": level, "msg": msg}, "data": data})


def test_results_come_from_dbt_json_log_lines():
    model = "model.kafka_elt.market_candle"
    lines = [
        _event("MainReportVersion", msg="Running with dbt=1.11.16"),
        _event(
            "LogModelResult",
            msg="1 of 3 OK created sql incremental model analytics.market_candle",
            node_info={"unique_id": model, "node_status": "success"},
            execution_time=0.31,
            status="MERGE 4",
        ),
        _event(
            "LogTestResult",
            msg="2 of 3 FAIL 2 unique_market_candle",
            node_info={"unique_id": "test.kafka_elt.unique_market_candle"},
            status="fail",
            num_failures=2,
            execution_time=0.1,
        ),
        _event("SkippingDetails", node_info={"unique_id": "model.kafka_elt.latest_price"}),
        "Traceback (most recent call last): something outside dbt's log",
        _event("RunResultError", level="error", msg="Failure in test unique_market_candle"),
    ]
    result = BuildResult(target="postgres", select=[], returncode=1, seconds=1.0)
    shown = [_record(result, event) for event in parse_events(lines)]
    assert result.nodes[model].status == "success" and result.nodes[model].seconds == 0.31
    assert result.nodes["test.kafka_elt.unique_market_candle"].status == "fail"
    assert result.nodes["test.kafka_elt.unique_market_candle"].message == "2 failing rows"
    assert result.nodes["model.kafka_elt.latest_price"].status == "skipped"
    assert result.failed_nodes == ["test.kafka_elt.unique_market_candle"] and not result.ok
    assert result.errors == [
        "Traceback (most recent call last): something outside dbt's log",
        "Failure in test unique_market_candle",
    ]
    assert "Running with dbt=1.11.16" in shown


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


def test_dbt_marts_dag_is_one_build_per_engine_and_a_task_per_model(manifest):
    os.environ.update(StackConfig.load().environment())
    from airflow.dag_processing.dagbag import DagBag

    from kafka_elt.transform.models import DbtModelOperator

    bag = DagBag(dag_folder=str(ROOT / "dags" / "dbt_marts.py"))
    assert bag.import_errors == {}
    dag = bag.dags["dbt_marts"]
    names = [m.name for m in load_models(manifest)]
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
