"""transform.findings: the tests a dbt build let pass with a warning."""

from __future__ import annotations


def test_warned_tests_are_the_tests_with_status_warn_and_their_row_counts():
    from kafka_elt.transform.build import BuildResult, NodeResult
    from kafka_elt.transform.findings import warned_tests

    result = BuildResult("postgres", [], 0, 1.0)
    result.nodes = {
        "model.kafka_elt.market_candle": NodeResult("success"),
        "test.kafka_elt.accepted_values_market_candle_type.x": NodeResult("warn", 0.1, "3 failing rows"),
        "test.kafka_elt.unique_latest_price_code.y": NodeResult("pass"),
        "test.kafka_elt.not_null_market_candle_code.z": NodeResult("fail", 0.1, "2 failing rows"),
    }
    assert warned_tests(result) == [
        ("test.kafka_elt.accepted_values_market_candle_type.x", 3, "3 failing rows")
    ]
    assert result.ok is False  # the failing test still fails the build; the warning does not
