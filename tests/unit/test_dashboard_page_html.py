"""The page renderer: bars carry the stored figures, tables show agreement, values are escaped."""

from __future__ import annotations

import re

from kafka_elt.dashboard.page_html import latency_chart, render_page


def latency_row(name, pg, ch, agree=True):
    return {
        "query_name": name, "question": f"What about {name}?", "run_id": "manual__1",
        "postgres_min_ms": pg * 0.9, "postgres_median_ms": pg, "postgres_p95_ms": pg * 1.2,
        "clickhouse_min_ms": ch * 0.9, "clickhouse_median_ms": ch, "clickhouse_p95_ms": ch * 1.2,
        "clickhouse_to_postgres_ratio": ch / pg, "postgres_rows": 7, "clickhouse_rows": 7, "results_agree": agree,
        "postgres_trend_ms": [pg, pg * 1.1, pg], "clickhouse_trend_ms": [ch],
    }  # fmt: skip


DATA = {
    "has_results": True,
    "last_run": {
        "run_id": "manual__2025-05-19T00:00:00+00:00",
        "run_at": "2025-05-19T00:00:00+00:00",
        "queries": 2,
        "repetitions": 10,
        "warmups": 2,
        "all_agree": True,
    },
    "latency": [latency_row("visits_per_http_method", 850.0, 25.0), latency_row("volume_leaders", 0.8, 2.4)],
    "agreement": [
        {
            "mart_name": "user_footprint",
            "postgres_rows": 10_000_000,
            "clickhouse_rows": 10_000_000,
            "postgres_checksum": "123",
            "clickhouse_checksum": "123",
            "agree": True,
        },
        {
            "mart_name": "latest_price",
            "postgres_rows": 8,
            "clickhouse_rows": 7,
            "postgres_checksum": "1",
            "clickhouse_checksum": "2",
            "agree": False,
        },
    ],
    "freshness": [
        {
            "engine": "clickhouse",
            "raw_table": "raw.web_logs",
            "mart_name": "user_footprint",
            "raw_newest_kafka_at": "2025-05-19T10:00:00+00:00",
            "mart_newest_kafka_at": "2025-05-19T09:55:00+00:00",
            "mart_lag_seconds": 300.0,
        },
    ],
}


def test_one_bar_per_query_and_engine_with_the_stored_median():
    html = render_page(DATA)
    bars = re.findall(
        r'<rect class="bar" data-query="([^"]+)" data-engine="(\w+)" data-median-ms="([\d.]+)"', html
    )
    assert sorted(bars) == sorted(
        [
            ("visits_per_http_method", "postgres", "850.000"),
            ("visits_per_http_method", "clickhouse", "25.000"),
            ("volume_leaders", "postgres", "0.800"),
            ("volume_leaders", "clickhouse", "2.400"),
        ]
    )
    assert "CH/PG 0.03\u00d7" in html and "CH/PG 3.00\u00d7" in html


def test_log_scale_keeps_the_longer_bar_for_the_slower_engine():
    svg = latency_chart(DATA["latency"])
    widths = {
        (q, e): float(w)
        for q, e, w in re.findall(r'data-query="(\w+)" data-engine="(\w+)" [^>]*width="([\d.]+)"', svg)
    }
    assert widths[("visits_per_http_method", "postgres")] > widths[("visits_per_http_method", "clickhouse")]
    assert widths[("volume_leaders", "clickhouse")] > widths[("volume_leaders", "postgres")]
    assert all(w >= 1 for w in widths.values())
    # Decades from 0.1 ms to 1,000 ms cover every median and p95.
    assert ">0.10 ms<" in svg and ">1,000 ms<" in svg


def test_agreement_table_flags_the_mart_that_differs():
    html = render_page(DATA)
    table = html[html.index('<table id="agreement-table">') :]
    table = table[: table.index("</table>")]
    assert '<td class="num">10,000,000</td>' in table
    assert re.search(r'data-mart="latest_price">.*?badge bad">differ<', table)
    assert re.search(r'data-mart="user_footprint">.*?badge ok">agree<', table)


def test_freshness_lag_and_last_run_are_shown():
    html = render_page(DATA)
    assert "2025-05-19 00:00:00 UTC" in html
    assert ">5 min<" in html
    assert "10 timed repetitions per engine after 2 warm-up(s)" in html


def test_values_from_the_database_are_escaped():
    evil = dict(DATA, latency=[latency_row('<script>alert("x")</script>', 1.0, 2.0)])
    html = render_page(evil)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_before_the_first_run_the_page_says_how_to_get_figures():
    html = render_page(
        {"has_results": False, "last_run": None, "latency": [], "agreement": [], "freshness": []}
    )
    assert "has not run yet" in html and "dashboard_benchmark" in html
    assert "latency-chart" not in html
