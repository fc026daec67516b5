"""Fixtures of the unit tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kafka_elt.stack.config import _SECRET_NAMES, StackConfig, parse_env_file

REPO = Path(__file__).resolve().parents[2]
DBT_MANIFEST = REPO / "dbt" / "target" / "manifest.json"


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """dbt's manifest of the project (dbt/target), parsed first if missing (no database)."""
    if not DBT_MANIFEST.exists():
        from kafka_elt.stack import dbt

        dbt.ensure_manifest(StackConfig.load())
    return DBT_MANIFEST


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """A checkout holding only .env.example, and none of the stack's settings in the
    environment (integration fixtures export the running stack's): StackConfig.load(root)
    sees the defaults and what a test sets."""
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    for name in [*parse_env_file(REPO / ".env.example"), *_SECRET_NAMES]:
        monkeypatch.delenv(name, raising=False)
    return tmp_path
