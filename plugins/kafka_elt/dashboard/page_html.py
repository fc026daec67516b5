"""Render the Engine comparison page: one self-contained HTML document.

Server-side, with the chart as inline SVG: the machine may be offline (no CDN), the
page needs no script to show its figures, and what the browser test reads is exactly
what the user sees. Every value from the database is escaped.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

ENGINES = (("postgres", "PostgreSQL", "#336791"), ("clickhouse", "ClickHouse", "#e0a000"))

_CSS = """
:root { color-scheme: light; --fg: #1f2933; --muted: #616e7c; --line: #d9dee4; --ok: #1a7f37; --bad: #c62828; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: #fff; margin: 0; padding: 16px 24px 32px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
p.note, figcaption, footer { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; min-width: 60%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: middle; }
th { font-weight: 600; background: #f5f7fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
         white-space: nowrap; }
.ok { color: var(--ok); } .bad { color: var(--bad); }
.badge.ok { background: #dafbe1; } .badge.bad { background: #ffebe9; }
.legend span { display: inline-block; margin-right: 16px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg .grid { stroke: var(--line); } svg .axis { fill: var(--muted); }
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _ms(value: float | None) -> str:
    if value is None:
        return "\u2013"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _ratio(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.2f}\u00d7"


def _when(iso: str | None) -> str:
    """ISO timestamp to 'YYYY-MM-DD HH:MM:SS UTC' (the views return UTC)."""
    if not iso:
        return "\u2013"
    return iso.replace("T", " ")[:19] + " UTC"


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    seconds = float(seconds)
    if seconds < 0:
        return "mart newer than raw?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours} h {minutes} min"


def _agree(flag: bool | None, yes: str = "agree", no: str = "differ") -> str:
    if flag is None:
        return '<span class="badge bad">unknown</span>'
    return f'<span class="badge ok">{yes}</span>' if flag else f'<span class="badge bad">{no}</span>'


def latency_chart(rows: list[dict[str, Any]], width: int = 920) -> str:
    """Grouped horizontal bars of the median latency per query and engine, log scale.

    Log scale, because the engines differ by orders of magnitude on some questions and
    not on others: on a linear axis the fast bars would vanish. A tick marks the p95.
    """
    values = [
        r[f"{engine}_{stat}_ms"]
        for r in rows
        for engine, _, _ in ENGINES
        for stat in ("median", "p95")
        if r.get(f"{engine}_{stat}_ms")
    ]
    if not values:
        return '<p class="note">No latency figures yet.</p>'
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    hi = hi * 10 if hi == lo else hi
    label_w, right_pad, bar_h, gap, group_gap, top = 250, 140, 14, 3, 16, 24
    plot_w = width - label_w - right_pad

    def x(v: float) -> float:
        v = max(v, lo)
        return label_w + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * plot_w

    group_h = len(ENGINES) * (bar_h + gap) + group_gap
    height = top + len(rows) * group_h + 8
    parts = [
        f'<svg id="latency-chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="Median latency per query and engine, log scale">'
    ]
    decade = lo
    while decade <= hi * 1.0001:
        gx = x(decade)
        parts.append(f'<line class="grid" x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 8}"/>')
        parts.append(
            f'<text class="axis" x="{gx:.1f}" y="{top - 10}" text-anchor="middle">{_ms(decade)} ms</text>'
        )
        decade *= 10
    for i, row in enumerate(rows):
        y0 = top + i * group_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + bar_h + 2}" text-anchor="end">{_e(row["query_name"])}</text>'
            f'<text class="axis" x="{label_w - 8}" y="{y0 + 2 * bar_h + 4}" text-anchor="end">'
            f"CH/PG {_ratio(row.get('clickhouse_to_postgres_ratio'))}</text>"
        )
        for j, (engine, label, color) in enumerate(ENGINES):
            median, p95 = row.get(f"{engine}_median_ms"), row.get(f"{engine}_p95_ms")
            if median is None:
                continue
            y = y0 + j * (bar_h + gap)
            parts.append(
                f'<rect class="bar" data-query="{_e(row["query_name"])}" data-engine="{engine}" '
                f'data-median-ms="{median:.3f}" x="{label_w}" y="{y}" width="{max(x(median) - label_w, 1):.1f}" '
                f'height="{bar_h}" fill="{color}"><title>{_e(label)}: median {_ms(median)} ms, '
                f"p95 {_ms(p95)} ms</title></rect>"
            )
            if p95 is not None:
                parts.append(
                    f'<line x1="{x(p95):.1f}" y1="{y + 2}" x2="{x(p95):.1f}" y2="{y + bar_h - 2}" '
                    f'stroke="{color}" stroke-width="2"/>'
                )
            parts.append(
                f'<text x="{x(max(median, p95 or 0)) + 6:.1f}" y="{y + bar_h - 3}">{_ms(median)} ms</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _sparkline(values: list[float], color: str) -> str:
    if len(values) < 2:
        return ""
    w, h = 80, 18
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    points = " ".join(
        f"{i * w / (len(values) - 1):.1f},{h - 2 - (v - lo) / span * (h - 4):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" aria-label="median over the last runs">'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/></svg>'
    )


def _latency_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "<tr><th>query</th><th>question</th>"
        '<th class="num">PostgreSQL min / median / p95 ms</th><th class="num">ClickHouse min / median / p95 ms</th>'
        '<th class="num">CH/PG</th><th class="num">rows</th><th>answers</th><th>median trend</th></tr>'
    )
    body = []
    for r in rows:
        stats = {
            e: " / ".join(_ms(r.get(f"{e}_{s}_ms")) for s in ("min", "median", "p95")) for e, _, _ in ENGINES
        }
        rows_cell = (
            _e(r.get("postgres_rows"))
            if r.get("postgres_rows") == r.get("clickhouse_rows")
            else f"{_e(r.get('postgres_rows'))} / {_e(r.get('clickhouse_rows'))}"
        )
        trends = "".join(_sparkline(r.get(f"{e}_trend_ms", []), color) for e, _, color in ENGINES)
        body.append(
            f'<tr data-query="{_e(r["query_name"])}"><td><code>{_e(r["query_name"])}</code></td>'
            f"<td>{_e(r.get('question'))}</td>"
            f'<td class="num">{stats["postgres"]}</td><td class="num">{stats["clickhouse"]}</td>'
            f'<td class="num ratio">{_ratio(r.get("clickhouse_to_postgres_ratio"))}</td>'
            f'<td class="num">{rows_cell}</td><td>{_agree(r.get("results_agree"), "same rows", "differ")}</td>'
            f"<td>{trends}</td></tr>"
        )
    return f'<table id="latency-table"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _agreement_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="note">No mart checksums recorded yet.</p>'
    head = (
        '<tr><th>mart</th><th class="num">PostgreSQL rows</th><th class="num">ClickHouse rows</th>'
        "<th>PostgreSQL checksum</th><th>ClickHouse checksum</th><th>agree</th></tr>"
    )
    body = "".join(
        f'<tr data-mart="{_e(r["mart_name"])}"><td><code>{_e(r["mart_name"])}</code></td>'
        f'<td class="num">{_e(_count(r.get("postgres_rows")))}</td>'
        f'<td class="num">{_e(_count(r.get("clickhouse_rows")))}</td>'
        f"<td><code>{_e(r.get('postgres_checksum'))}</code></td><td><code>{_e(r.get('clickhouse_checksum'))}</code></td>"
        f"<td>{_agree(r.get('agree'))}</td></tr>"
        for r in rows
    )
    return f'<table id="agreement-table"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _count(value: int | None) -> str:
    return "\u2013" if value is None else f"{value:,}"


def _freshness_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="note">No freshness recorded yet.</p>'
    head = (
        "<tr><th>engine</th><th>raw table</th><th>newest Kafka timestamp loaded</th><th>mart</th>"
        '<th>newest Kafka timestamp in the mart</th><th class="num">mart behind by</th></tr>'
    )
    labels = {e: label for e, label, _ in ENGINES}
    body = "".join(
        f"<tr><td>{_e(labels.get(r['engine'], r['engine']))}</td><td><code>{_e(r['raw_table'])}</code></td>"
        f"<td>{_e(_when(r.get('raw_newest_kafka_at')))}</td><td><code>{_e(r['mart_name'])}</code></td>"
        f"<td>{_e(_when(r.get('mart_newest_kafka_at')))}</td>"
        f'<td class="num">{_e(_lag(r.get("mart_lag_seconds")))}</td></tr>'
        for r in rows
    )
    return f'<table id="freshness-table"><thead>{head}</thead><tbody>{body}</tbody></table>'


def render_page(data: dict[str, Any]) -> str:
    if not data.get("has_results"):
        main = (
            '<p id="last-run">The benchmark has not run yet. Trigger the <code>dashboard_benchmark</code> DAG '
            "(it also runs by itself after every <code>dbt_marts</code> run).</p>"
        )
    else:
        run = data["last_run"]
        legend = "".join(
            f'<span><i class="swatch" style="background:{color}"></i>{label}</span>'
            for _, label, color in ENGINES
        )
        main = (
            f'<p id="last-run">Benchmark last ran <time datetime="{_e(run["run_at"])}">{_e(_when(run["run_at"]))}'
            f"</time> (run <code>{_e(run['run_id'])}</code>): {_e(run['queries'])} queries, "
            f"{_e(run['repetitions'])} timed repetitions per engine after {_e(run['warmups'])} warm-up(s). "
            f"Answers of the two engines: {_agree(run.get('all_agree'), 'all agree', 'some differ')}</p>"
            "<h2>Median latency per query</h2>"
            f'<figure><div class="legend">{legend}</div>{latency_chart(data["latency"])}'
            "<figcaption>Log scale. Bars: median of the timed repetitions; tick: p95. CH/PG below 1 means "
            "ClickHouse answered faster. Timed: sending the query over an open connection and receiving every "
            "row.</figcaption></figure>"
            f"{_latency_table(data['latency'])}"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Engine comparison</title><style>{_CSS}</style></head><body>"
        "<h1>Engine comparison: PostgreSQL vs ClickHouse</h1>"
        f"{main}"
        "<h2>Do both databases hold the same marts?</h2>"
        '<p class="note">Row count and order-independent checksum of each mart (dbt model '
        "<code>mart_checksums</code>), snapshotted by the latest benchmark run.</p>"
        f"{_agreement_table(data.get('agreement', []))}"
        "<h2>Freshness</h2>"
        '<p class="note">Newest Kafka message timestamp loaded into each raw table, and the newest one the mart '
        "built from it reflects: the gap is how far the marts lag ingestion.</p>"
        f"{_freshness_table(data.get('freshness', []))}"
        "<footer><p>Read from the <code>monitoring</code> schema in PostgreSQL, written by the "
        "<code>dashboard_benchmark</code> DAG. Loading this page runs no benchmark query.</p></footer>"
        "</body></html>"
    )
