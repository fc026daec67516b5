"""The page renderer: bars carry the stored figures, tables show agreement, the live
freshness block shows what was read for this request, values are escaped."""

from __future__ import annotations

import datetime as dt
import re

from kafka_elt.dashboard.live_freshness import TARGETS, Observation, freshness_row
from kafka_elt.dashboard.page_html import latency_chart, render_page

NOW = dt.datetime(2025, 5, 19, 12, 0, 0, tzinfo=dt.UTC)


def ago(seconds):
    return NOW - dt.timedelta(seconds=seconds)


def live_block(clickhouse_error=None):
    """What read_live_freshness returns: PostgreSQL answered, ClickHouse too unless
    ``clickhouse_error`` says why it did not."""
    candles, footprints = TARGETS
    rows = [
        freshness_row("postgres", candles, Observation(ago(5), ago(2), ago(12)), NOW),
        freshness_row("postgres", footprints, Observation(ago(30), ago(20), ago(330)), NOW),
    ]
    if clickhouse_error:
        down = Observation(raw_error=clickhouse_error, mart_error=clickhouse_error)
        rows += [freshness_row("clickhouse", t, down, NOW) for t in TARGETS]
    else:
        rows += [
            freshness_row("clickhouse", candles, Observation(ago(5), ago(2), ago(130)), NOW),
            freshness_row("clickhouse", footprints, Observation(ago(30), ago(20), None), NOW),
        ]
    return {
        "checked_at": NOW.isoformat(),
        "statement_timeout_seconds": 2.0,
        "deadline_seconds": 5.0,
        "event_columns": {
            t.mart_name: {"column": t.event_column, "meaning": t.event_meaning} for t in TARGETS
        },
        "engines": [
            {"engine": "postgres", "engine_label": "PostgreSQL", "available": True, "error": None},
            {
                "engine": "clickhouse",
                "engine_label": "ClickHouse",
                "available": clickhouse_error is None,
                "error": clickhouse_error,
            },
        ],
        "rows": rows,
    }


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
            "run_id": "manual__2025-05-19T00:00:00+00:00",
            "taken_at": "2025-05-19T10:00:05+00:00",
        },
    ],
    "live_freshness": live_block(),
}


def section(html, start, end="</table>"):
    part = html[html.index(start) :]
    return part[: part.index(end)]


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


def test_live_freshness_block_shows_each_mart_and_engine_now():
    html = render_page(DATA)
    assert '<h2 id="live-freshness">Freshness now <span class="badge live">live</span></h2>' in html
    assert '<time datetime="2025-05-19T12:00:00+00:00">2025-05-19 12:00:00 UTC</time>' in html
    summary = section(html, '<ul class="summary" id="live-freshness-summary">', "</ul>")
    assert "market_candle on PostgreSQL: newest event 12 s ago" in summary
    assert "user_footprint on PostgreSQL: newest event 5 min ago" in summary
    assert "market_candle on ClickHouse: newest event 2 min ago" in summary
    assert "user_footprint on ClickHouse: no rows yet" in summary
    # Raw context and dbt lag in words: raw.web_logs produced 30 s ago, loaded 20 s ago.
    assert (
        "raw.web_logs: newest message produced 30 s ago, loaded 20 s ago; mart behind raw by 5 min" in summary
    )

    table = section(html, '<table id="live-freshness-table">')
    rows = re.findall(r'<tr data-engine="(\w+)" data-mart="(\w+)" data-status="(\w+)"', table)
    assert rows == [
        ("postgres", "market_candle", "ok"),
        ("postgres", "user_footprint", "ok"),
        ("clickhouse", "market_candle", "ok"),
        ("clickhouse", "user_footprint", "empty"),
    ]
    assert 'data-age-seconds="12.0"' in table
    assert "<code>updated_at</code>" in table and "<code>produced_at</code>" in table
    assert '<td class="num">7 s</td>' in table  # market_candle on PostgreSQL: 12 s - 5 s behind raw
    # The page says which column is the event time, and that footprint_time is not it.
    assert "user_footprint.produced_at</code>: Kafka timestamp of the visit event" in html
    assert "not footprint_time" in html


def test_live_and_stored_figures_are_labelled_and_the_stored_ones_dated():
    html = render_page(DATA)
    live_at = html.index('id="live-freshness"')
    stored_at = html.index("Benchmark last ran")
    assert live_at < stored_at
    assert html.count('<span class="badge stored">last benchmark run</span>') >= 4
    stored = section(html, '<h2 id="stored-freshness">', '<table id="freshness-table">')
    assert "Not live" in stored
    assert "2025-05-19 10:00:05 UTC" in stored and "manual__2025-05-19T00:00:00+00:00" in stored


def test_an_engine_that_is_down_shows_unavailable_with_its_error_once():
    error = "cannot connect to ClickHouse through Airflow connection 'warehouse_clickhouse': <refused>"
    html = render_page(dict(DATA, live_freshness=live_block(clickhouse_error=error)))
    assert html.count("&lt;refused&gt;") == 1 and "<refused>" not in html  # escaped, said once
    assert '<p class="bad engine-down" data-engine="clickhouse">ClickHouse unavailable: ' in html
    table = section(html, '<table id="live-freshness-table">')
    assert len(re.findall(r'data-engine="clickhouse" data-mart="\w+" data-status="unavailable"', table)) == 2
    assert table.count("ClickHouse did not answer (see above)") == 2
    # PostgreSQL's figures still show.
    assert "market_candle on PostgreSQL: newest event 12 s ago" in html


def test_live_freshness_shows_when_the_stored_results_cannot_be_read():
    html = render_page(
        {"results_error": "cannot read the benchmark results <x>", "live_freshness": live_block()}
    )
    assert '<p id="last-run" class="bad">cannot read the benchmark results &lt;x&gt;</p>' in html
    assert "market_candle on ClickHouse: newest event 2 min ago" in html
    assert "agreement-table" not in html and "latency-chart" not in html


def test_data_quality_warnings_are_listed_with_engine_rows_and_message():
    from kafka_elt.dashboard.page_html import data_quality_section

    html = data_quality_section(
        [
            {
                "target": "clickhouse",
                "test_id": "test.kafka_elt.accepted_values_user_footprint_request__GET.abc",
                "failing_rows": 1,
                "message": "1 failing rows",
                "build_id": "asset_triggered__x",
                "recorded_at": "2026-12-01T10:00:00+00:00",
            }
        ]
    )
    assert 'id="data-quality-table"' in html
    assert "ClickHouse" in html and "accepted_values_user_footprint_request__GET.abc" in html
    assert '<td class="num">1</td>' in html
    assert "No test warned" in data_quality_section([])
