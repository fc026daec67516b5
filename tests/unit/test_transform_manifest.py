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
    # A relationships test belongs to the child model whose column it checks.
    relationship = [t for t in models["latest_price"].tests if t.startswith("test.kafka_elt.relationships_")]
    assert relationship and not any(t in models["market_candle"].tests for t in relationship)


def test_missing_manifest_says_how_to_make_it(tmp_path):
    with pytest.raises(ManifestError, match="dbt parse"):
        load_models(tmp_path / "manifest.json")
