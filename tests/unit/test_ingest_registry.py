"""The topic registry: the committed file is valid, and mistakes fail with clear errors."""

from __future__ import annotations

import pytest
import yaml

from kafka_elt.ingest.registry import (
    REGISTRY_FILE,
    RegistryError,
    TopicSpec,
    get_topic,
    load_registry,
    parse_registry,
)


def test_committed_registry():
    specs = {spec.topic: spec for spec in load_registry()}
    assert set(specs) == {"market_candle", "web-logs-topic"}
    candle, web = specs["market_candle"], specs["web-logs-topic"]
    assert (candle.table, candle.kind, candle.qualified_table) == (
        "market_candle",
        "market_candle",
        "raw.market_candle",
    )
    assert (web.table, web.kind, web.qualified_table) == ("web_logs", "footprint", "raw.web_logs")
    assert {candle.dag_id, web.dag_id} == {"ingest_market_candle", "ingest_web_logs"}
    for spec in specs.values():
        assert spec.qualified_dead_letter_table == "raw.dead_letter"
        assert spec.partitions == 3 and spec.batch_size > 0 and spec.max_messages > 0 and spec.max_seconds > 0
        assert spec.schedule


def test_defaults_apply_and_topics_override_them():
    specs = parse_registry(
        {
            "defaults": {"batch_size": 500, "schedule": "@hourly"},
            "topics": {
                "a.topic": {"table": "a", "kind": "footprint"},
                "b": {
                    "table": "b",
                    "kind": "market_candle",
                    "batch_size": 7,
                    "schedule": None,
                    "consumer_group": "g",
                },
            },
        }
    )
    a, b = specs
    assert (a.topic, a.batch_size, a.schedule, a.consumer_group) == ("a.topic", 500, "@hourly", None)
    assert (b.batch_size, b.schedule, b.consumer_group) == (7, None, "g")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"topics": []}, "expected a mapping with a `topics:` mapping"),
        ({"topics": {}, "extra": 1}, "unknown top-level keys"),
        ({"defaults": {"batchsize": 1}, "topics": {}}, "unknown keys in `defaults`"),
        ({"topics": {"t": {"kind": "footprint"}}}, "missing required keys ['table']"),
        ({"topics": {"t": {"table": "t", "kind": "footprint", "tabel": "x"}}}, "unknown keys ['tabel']"),
        (
            {"topics": {"t": {"table": "T-1", "kind": "footprint"}}},
            "`table` must be a lowercase SQL identifier",
        ),
        (
            {"topics": {"t": {"table": "t; drop", "kind": "footprint"}}},
            "`table` must be a lowercase SQL identifier",
        ),
        ({"topics": {"t": {"table": "t", "kind": "avro"}}}, "unknown `kind` 'avro'"),
        ({"topics": {"bad topic": {"table": "t", "kind": "footprint"}}}, "not a valid Kafka topic name"),
        (
            {"topics": {"t": {"table": "t", "kind": "footprint", "batch_size": 0}}},
            "`batch_size` must be a positive",
        ),
        (
            {"topics": {"t": {"table": "t", "kind": "footprint", "max_seconds": "60"}}},
            "`max_seconds` must be",
        ),
        (
            {"topics": {"t": {"table": "t", "kind": "footprint", "batch_max_bytes": -1}}},
            "`batch_max_bytes` must be a positive",
        ),
        (
            {"topics": {"t": {"table": "t", "kind": "footprint", "batch_max_bytes": 65536}}},
            "`batch_max_bytes` must be at least 1048576 (1 MiB), got 65536",
        ),
        (
            {"topics": {"t": {"table": "dead_letter", "kind": "footprint"}}},
            "must differ from `dead_letter_table`",
        ),
        (
            {
                "topics": {
                    "a": {"table": "t", "kind": "footprint"},
                    "b": {"table": "t", "kind": "market_candle"},
                }
            },
            "share the raw table 't'",
        ),
    ],
)
def test_mistakes_are_reported(document, message):
    with pytest.raises(RegistryError) as excinfo:
        parse_registry(document, "topics.yaml")
    assert message in str(excinfo.value)
    assert "topics.yaml" in str(excinfo.value)


def test_load_from_another_file(tmp_path, monkeypatch):
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump({"topics": {"clicks": {"table": "clicks", "kind": "footprint"}}}))
    assert [s.topic for s in load_registry(path)] == ["clicks"]
    monkeypatch.setenv("KAFKA_ELT_TOPICS_FILE", str(path))
    assert get_topic("clicks").table == "clicks"
    with pytest.raises(RegistryError, match="not in the topic registry"):
        get_topic("market_candle")
    with pytest.raises(RegistryError, match="not found"):
        load_registry(tmp_path / "missing.yaml")
    path.write_text("topics: [unclosed")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(path)


def test_overrides_are_checked():
    spec = get_topic("market_candle", REGISTRY_FILE)
    other = spec.with_overrides(topic="it_candles", raw_schema="it_x")
    assert isinstance(other, TopicSpec) and other.qualified_table == "it_x.market_candle"
    with pytest.raises(RegistryError):
        spec.with_overrides(table="Robert'); drop table students;--")
