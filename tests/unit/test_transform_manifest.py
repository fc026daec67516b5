"""transform.manifest: the models (with their lineage and tests) read from dbt's manifest."""

from __future__ import annotations

import pytest

from kafka_elt.transform.manifest import ManifestError, load_models


def test_models_with_their_lineage_and_tests(dbt_manifest):
    models = {m.name: m for m in load_models(dbt_manifest)}
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


def test_a_test_of_two_models_belongs_to_the_model_it_is_attached_to(tmp_path):
    """A relationships test reads two models; it belongs to the child, whose column it
    checks (dbt's attached_node), else to the last model it reads."""
    import json

    model = {"resource_type": "model", "depends_on": {"nodes": []}}
    nodes = {
        "model.p.parent": {**model, "name": "parent"},
        "model.p.child": {**model, "name": "child", "depends_on": {"nodes": ["model.p.parent"]}},
        "test.p.relationships_child": {
            "resource_type": "test",
            "attached_node": "model.p.child",
            "depends_on": {"nodes": ["model.p.parent", "model.p.child"]},
        },
        "test.p.no_attached_node": {
            "resource_type": "test",
            "depends_on": {"nodes": ["model.p.parent", "model.p.child"]},
        },
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}))
    models = {m.name: m for m in load_models(path)}
    assert models["child"].tests == ("test.p.no_attached_node", "test.p.relationships_child")
    assert models["parent"].tests == ()


def test_missing_manifest_says_how_to_make_it(tmp_path):
    with pytest.raises(ManifestError, match="dbt parse"):
        load_models(tmp_path / "manifest.json")
