"""The page and its JSON API carry the live freshness, whatever state the engines and
the results store are in (the routes' data sources replaced; Airflow's auth bypassed)."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from kafka_elt.stack.config import StackConfig

# Airflow reads its configuration on first import: the stack's, as in test_dag_integrity.
os.environ.update(StackConfig.load().environment())

from kafka_elt.dashboard import web

LIVE = {
    "checked_at": "2025-05-19T12:00:00+00:00",
    "statement_timeout_seconds": 2.0,
    "event_columns": {},
    "engines": [
        {"engine": "postgres", "engine_label": "PostgreSQL", "available": True, "error": None},
        {"engine": "clickhouse", "engine_label": "ClickHouse", "available": False, "error": "refused"},
    ],
    "rows": [],
}
STORED = {"has_results": False, "last_run": None, "latency": [], "agreement": [], "freshness": []}


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr(web, "_live_freshness", lambda: LIVE)
    monkeypatch.setattr(web, "_page_data", lambda: dict(STORED))
    web.app.dependency_overrides[web._authorized[0].dependency] = lambda: None
    yield TestClient(web.app)
    web.app.dependency_overrides.clear()


def test_api_summary_has_live_freshness_and_says_what_is_stored(client):
    response = client.get("/api/summary")
    assert response.status_code == 200
    body = response.json()
    assert body["live_freshness"] == LIVE
    assert body["sources"]["live_freshness"].startswith("live")
    assert body["sources"]["latency"].startswith("stored")
    assert response.headers["cache-control"] == "no-store"


def test_results_store_down_is_503_with_live_freshness(client, monkeypatch):
    def unreadable():
        raise web.ResultsUnavailable("cannot read the benchmark results")

    monkeypatch.setattr(web, "_page_data", unreadable)
    api = client.get("/api/summary")
    assert api.status_code == 503
    assert api.json()["detail"] == "cannot read the benchmark results"
    assert api.json()["live_freshness"] == LIVE
    page = client.get("/")
    assert page.status_code == 503
    assert "cannot read the benchmark results" in page.text and 'id="live-freshness-table"' in page.text


def test_page_shows_the_engine_that_is_down(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "ClickHouse unavailable: refused" in page.text
