"""The dbt project's structure, checked on its parsed manifest (no database needed).

The layering rules of dbt-project-evaluator, as plain assertions: one staging model
per source table, marts read refs only, no hard-coded relations, a grain test on every
model, freshness on every source that should have it, physical design stated for both
engines on every incremental model, and a profile holding only env_var() lookups.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt"
DBT = ROOT / ".venv-dbt" / "bin" / "dbt"
GRAIN_TESTS = {"unique", "unique_combination_of_columns"}


def _parse(target_path: Path, target: str) -> dict:
    assert DBT.exists(), f"{DBT} is missing: create the dbt venv (pip install -r requirements-dbt.txt)"
    # Parsing renders the profile, so its variables need values; nothing connects.
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        **{f"DBT_POSTGRES_{k}": "x" for k in ("HOST", "USER", "PASSWORD", "DBNAME")},
        **{f"DBT_CLICKHOUSE_{k}": "x" for k in ("HOST", "USER", "PASSWORD")},
        "DBT_POSTGRES_PORT": "5432",
        "DBT_CLICKHOUSE_PORT": "8123",
    }
    proc = subprocess.run(
        [
            str(DBT),
            "parse",
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target",
            target,
            "--target-path",
            str(target_path),
            "--no-partial-parse",
            "--log-path",
            str(target_path / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"dbt parse failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    return json.loads((target_path / "manifest.json").read_text())


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    return _parse(tmp_path_factory.mktemp("dbt-target"), "postgres")


@pytest.fixture(scope="module")
def clickhouse_manifest(tmp_path_factory) -> dict:
    return _parse(tmp_path_factory.mktemp("dbt-target-clickhouse"), "clickhouse")


def _models(manifest: dict) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def _tests_by_model(manifest: dict) -> dict[str, set[str]]:
    tests: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        for parent in node["depends_on"]["nodes"]:
            tests.setdefault(parent, set()).add(node["test_metadata"]["name"])
    return tests


def test_every_model_has_a_grain_test(manifest):
    tests = _tests_by_model(manifest)
    missing = [
        m["name"] for m in _models(manifest).values() if not tests.get(m["unique_id"], set()) & GRAIN_TESTS
    ]
    assert not missing, f"models without unique / unique_combination_of_columns: {missing}"


def test_one_staging_model_per_source_table_and_marts_read_refs_only(manifest):
    sources = {s["unique_id"] for s in manifest["sources"].values()}
    staged: dict[str, list[str]] = {}
    for model in _models(manifest).values():
        parents = model["depends_on"]["nodes"]
        from_sources = [p for p in parents if p.startswith("source.")]
        if model["name"].startswith("stg_"):
            assert len(from_sources) == 1 and len(parents) == 1, (
                f"{model['name']} must read exactly one source"
            )
            staged.setdefault(from_sources[0], []).append(model["name"])
        else:
            assert not from_sources, f"{model['name']} reads a source directly: {from_sources}"
    assert set(staged) == sources, f"source tables without a staging model: {sources - set(staged)}"
    assert all(len(v) == 1 for v in staged.values()), staged


def test_no_hard_coded_relations(manifest):
    pattern = re.compile(r"\b(raw|analytics|public|default)\s*\.\s*[a-z_]+", re.IGNORECASE)
    offenders = {
        m["name"]: pattern.findall(re.sub(r"--[^\n]*|\{#.*?#\}", "", m["raw_code"], flags=re.S))
        for m in _models(manifest).values()
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_models_end_with_select_from_final(manifest):
    wrong = [
        m["name"]
        for m in _models(manifest).values()
        if m["raw_code"].strip().splitlines()[-1].strip() != "select * from final"
    ]
    assert not wrong, f"models not ending in `select * from final`: {wrong}"


def test_sources_have_freshness_on_load_time(manifest):
    for source in manifest["sources"].values():
        if source["name"] == "dead_letter":
            continue  # empty when healthy: no freshness by design
        assert source["loaded_at_field"] == "ingested_at", source["unique_id"]
        freshness = source["freshness"] or {}
        assert freshness.get("warn_after", {}).get("count") and freshness.get("error_after", {}).get(
            "count"
        ), f"{source['unique_id']} has no freshness thresholds"


def test_incremental_models_state_keys_and_physical_design(manifest):
    incremental = [m for m in _models(manifest).values() if m["config"]["materialized"] == "incremental"]
    assert {m["name"] for m in incremental} >= {"market_candle", "user_footprint"}
    for model in incremental:
        config = model["config"]
        assert config.get("unique_key"), (
            f"{model['name']}: an incremental model without unique_key appends duplicates"
        )
        assert config.get("engine", "").startswith("ReplacingMergeTree"), model["name"]
        assert config.get("order_by"), model["name"]
        # This manifest is the PostgreSQL one: MERGE and a unique index on the key.
        assert config.get("incremental_strategy") == "merge", model["name"]
        unique_indexes = [i for i in config.get("indexes", []) if i.get("unique")]
        assert any(sorted(i["columns"]) == sorted(config["unique_key"]) for i in unique_indexes), (
            f"{model['name']}: no unique index on {config['unique_key']}"
        )
    candle = _models(manifest)["market_candle"]["config"]
    assert candle["unique_key"] == ["code", "timestamp"] and candle["order_by"] == ["code", "timestamp"]


def test_clickhouse_upserts_delete_by_patch_parts(clickhouse_manifest):
    """A delete+insert model's DELETE is a lightweight update (one patch part), not a
    mutation of every part: the table stores block numbers and the profile asks for it."""
    upserted = [
        m
        for m in _models(clickhouse_manifest).values()
        if m["config"].get("incremental_strategy") == "delete+insert"
    ]
    assert {m["name"] for m in upserted} >= {"market_candle", "int_market_candle_partition_heads"}
    for model in upserted:
        settings = model["config"].get("settings") or {}
        assert settings.get("enable_block_number_column") == 1, model["name"]
        assert settings.get("enable_block_offset_column") == 1, model["name"]
    profile = yaml.safe_load((PROJECT / "profiles.yml").read_text())["kafka_elt"]
    for name, output in profile["outputs"].items():
        if output["type"] == "clickhouse":
            assert output["custom_settings"]["lightweight_delete_mode"] == "lightweight_update", name
            assert output["custom_settings"]["allow_experimental_lightweight_update"] == 1, name


def test_clickhouse_append_only_model_keeps_its_stored_offsets_in_a_projection(clickhouse_manifest):
    footprint = _models(clickhouse_manifest)["user_footprint"]["config"]
    assert footprint["incremental_strategy"] == "append"
    (projection,) = footprint["projections"]
    assert "max(kafka_offset)" in projection["query"]
    assert "group by kafka_topic, kafka_partition" in projection["query"]
    # a ReplacingMergeTree refuses a projection unless told what merges do to it
    assert footprint["settings"]["deduplicate_merge_projection_mode"] == "rebuild"


def test_models_read_by_built_at_refresh_their_statistics(manifest):
    """PostgreSQL plans the rows after the newest built_at from statistics: every model
    that another model reads with newer_than_stored analyzes itself after each write."""
    models = _models(manifest)
    by_id = {m["unique_id"]: m for m in models.values()}
    read_by_built_at = {
        by_id[parent]["name"]
        for m in models.values()
        if "newer_than_stored" in m["raw_code"]
        for parent in m["depends_on"]["nodes"]
        if parent in by_id
    }
    assert {"market_candle", "int_market_candle_partition_heads", "user_footprint"} <= read_by_built_at
    for name in read_by_built_at:
        hooks = [h["sql"] for h in models[name]["config"]["post-hook"]]
        assert any("refresh_statistics" in h for h in hooks), name


def test_latest_message_wins_has_unit_tests(manifest):
    unit_tests = {u["model"] for u in manifest.get("unit_tests", {}).values()}
    assert {"market_candle", "int_market_candle_partition_heads"} <= unit_tests, unit_tests


def test_profile_holds_only_env_var_lookups():
    profile = yaml.safe_load((PROJECT / "profiles.yml").read_text())["kafka_elt"]
    for name, output in profile["outputs"].items():
        for key in ("host", "user", "password", "port"):
            assert "env_var(" in str(output[key]), f"profiles.yml {name}.{key} is not an env_var() lookup"
        for key in ("dbname", "schema"):
            if key in output:
                assert "env_var(" in str(output[key]), f"profiles.yml {name}.{key} is not an env_var() lookup"
