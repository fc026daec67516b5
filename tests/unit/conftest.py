"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_elt.stack.config import StackConfig

DBT_MANIFEST = Path(__file__).resolve().parents[2] / "dbt" / "target" / "manifest.json"


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """dbt's manifest of the project (dbt/target), parsed first if missing (no database)."""
    if not DBT_MANIFEST.exists():
        from kafka_elt.stack import dbt

        dbt.ensure_manifest(StackConfig.load())
    return DBT_MANIFEST
