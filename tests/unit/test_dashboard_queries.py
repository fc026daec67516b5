"""Loading the dashboard's query files: engine variants, titles, parameters, mistakes."""

from __future__ import annotations

import pytest

from kafka_elt.dashboard.queries import ENGINES, QueryFileError, load_queries

EXPECTED = {
    "page_views_last_24h",
    "top_links_per_day",
    "visits_per_http_method",
    "hourly_ohlcv_week",
    "latest_price_change_24h",
    "volume_leaders",
}


def test_the_repository_queries_load_for_every_engine():
    queries = {q.name: q for q in load_queries()}
    assert set(queries) == EXPECTED
    for q in queries.values():
        assert set(q.sql) == set(ENGINES)
        assert q.title and not q.title.startswith("--")
        assert all("select" in sql.lower() and not sql.endswith(";") for sql in q.sql.values())


def test_only_the_ohlcv_query_takes_the_code():
    queries = {q.name: q for q in load_queries()}
    assert queries["hourly_ohlcv_week"].params_for("clickhouse", {"code": "BTC-USD", "x": 1}) == {
        "code": "BTC-USD"
    }
    assert queries["visits_per_http_method"].params_for("postgres", {"code": "BTC-USD"}) == {}
    with pytest.raises(KeyError, match="needs parameter"):
        queries["hourly_ohlcv_week"].params_for("postgres", {})


def write(folder, name, text):
    (folder / name).write_text(text)


def test_an_engine_variant_replaces_the_base_for_that_engine_only(tmp_path):
    write(tmp_path, "q.sql", "-- Question?\nselect 1 as n\n")
    write(tmp_path, "q.clickhouse.sql", "-- Question?\nselect toUInt8(1) as n;\n")
    (q,) = load_queries(tmp_path)
    assert q.title == "Question?"
    assert q.sql["postgres"] == "-- Question?\nselect 1 as n"
    assert q.sql["clickhouse"] == "-- Question?\nselect toUInt8(1) as n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"q.clickhouse.sql": "-- Q\nselect 1"}, "without a base"),
        ({"q.mysql.sql": "-- Q\nselect 1", "q.sql": "-- Q\nselect 1"}, "name it"),
        ({"q.sql": "select 1"}, "first line must be"),
        ({"q.sql": "-- Q\nselect '100%' as pct"}, "literal '%'"),
        ({"Bad-Name.sql": "-- Q\nselect 1"}, "lowercase identifiers"),
        ({}, "no dashboard queries"),
    ],
)
def test_mistakes_are_refused_naming_the_file(tmp_path, files, message):
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(QueryFileError, match=message):
        load_queries(tmp_path)
