"""transform.build: which models a build selects, its dbt command line, and its results
read from dbt's JSON log lines."""

from __future__ import annotations

import json
from pathlib import Path

from kafka_elt.transform.build import BuildResult, _record, dbt_command, parse_events, selection_for


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
