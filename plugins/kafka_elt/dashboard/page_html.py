"""Render the Engine comparison page: one self-contained HTML document.

Server-side, with the chart as inline SVG: the machine may be offline (no CDN), the
page needs no script to show its figures, and what the browser test reads is exactly
what the user sees. Every value from the database is escaped.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from kafka_elt import settings
from kafka_elt.dashboard.live_freshness import format_age, format_gap
from kafka_elt.settings import ENGINE_LABELS

_COLORS = {"postgres": "#336791", "clickhouse": "#e0a000"}
ENGINES = tuple((engine, ENGINE_LABELS[engine], _COLORS[engine]) for engine in settings.ENGINES)

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
.badge.live { background: #ddf4ff; color: #0550ae; } .badge.stored { background: #eef1f4; color: var(--muted); }
h2 .badge { margin-left: 8px; vertical-align: 2px; font-weight: 600; }
ul.summary { margin: 4px 0 10px; padding-left: 20px; }
td.error { color: var(--bad); }
#live-freshness-table td { white-space: nowrap; } #live-freshness-table td.error { white-space: normal; }
#live-freshness-table th[colspan] { text-align: center; border-bottom: 1px solid var(--line); }
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


def data_quality_section(rows: list[dict[str, Any]]) -> str:
    """dbt tests at warn severity that found rows in the last day (dbt_marts stores them)."""
    title = '<h2 id="data-quality">Data-quality warnings (last 24 hours)</h2>'
    note = (
        '<p class="note">dbt tests at <em>warn</em> severity that found rows: values the marts accept but '
        "the tests did not expect (an unknown candle type, an HTTP method outside RFC 9110's list, a candle "
        "without prices). The marts were built; grain and key tests still fail a build. See "
        "&ldquo;Data contract&rdquo; in the README.</p>"
    )
    if not rows:
        return f'{title}{note}<p id="data-quality-none">No test warned in the last 24 hours.</p>'
    labels = {e: label for e, label, _ in ENGINES}
    head = '<tr><th>engine</th><th>test</th><th class="num">rows</th><th>message</th><th>last seen</th></tr>'
    body = "".join(
        f'<tr data-test="{_e(r["test_id"])}"><td>{_e(labels.get(r["target"], r["target"]))}</td>'
        f"<td><code>{_e(r['test_id'].removeprefix('test.kafka_elt.'))}</code></td>"
        f'<td class="num">{_e(_count(r.get("failing_rows")))}</td><td>{_e(r.get("message"))}</td>'
        f"<td>{_e(_when(r.get('recorded_at')))}</td></tr>"
        for r in rows
    )
    return f'{title}{note}<table id="data-quality-table"><thead>{head}</thead><tbody>{body}</tbody></table>'


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


def _snapshot_note(rows: list[dict[str, Any]], what: str) -> str:
    """'taken at <time> by run <id>' for a stored snapshot (its rows share one run)."""
    first = rows[0] if rows else {}
    if not first.get("taken_at"):
        return f"{what} by the last benchmark run."
    run = f" (run <code>{_e(first['run_id'])}</code>)" if first.get("run_id") else ""
    return (
        f'{what} by the last benchmark run, at <time datetime="{_e(first["taken_at"])}">'
        f"{_e(_when(first['taken_at']))}</time>{run}."
    )


def _live_cells(r: dict[str, Any], error: str | None) -> str:
    raw = (
        f"<td><code>{_e(r['raw_table'])}</code></td>"
        f"<td>{_e(_when(r.get('raw_newest_kafka_at')))}</td>"
        f'<td class="num">{_e(format_age(r.get("raw_newest_age_seconds")))}</td>'
        f'<td class="num">{_e(format_age(r.get("raw_ingested_age_seconds")))}</td>'
    )
    if r["status"] == "unavailable":
        return (
            f'<td colspan="2" class="error"><span class="badge bad">unavailable</span> {_e(error)}</td>'
            f'{raw}<td class="num">\u2013</td>'
        )
    if r["status"] == "empty":
        event = '<td colspan="2">no rows yet</td>'
    else:
        event = (
            f"<td>{_e(_when(r.get('mart_newest_event_at')))}</td>"
            f'<td class="num age">{_e(format_age(r.get("mart_event_age_seconds")))}</td>'
        )
    gap = f'<td class="num">{_e(format_gap(r.get("mart_behind_raw_seconds")))}</td>'
    return event + raw + gap


def _live_context(r: dict[str, Any]) -> str:
    """After the summary: the raw table's newest message and the dbt lag, in words."""
    if not r.get("raw_newest_kafka_at"):
        return ""
    text = (
        f"; {r['raw_table']}: newest message produced {format_age(r.get('raw_newest_age_seconds'))}, "
        f"loaded {format_age(r.get('raw_ingested_age_seconds'))}"
    )
    if r.get("mart_behind_raw_seconds") is not None:
        text += f"; mart behind raw by {format_gap(r['mart_behind_raw_seconds'])}"
    return text


def live_freshness_section(live: dict[str, Any] | None) -> str:
    """The "Freshness now" block: read from both engines for this request."""
    title = '<h2 id="live-freshness">Freshness now <span class="badge live">live</span></h2>'
    if not live:
        return f'{title}<p class="note">Live freshness was not read.</p>'
    rows = live.get("rows", [])
    checked = (
        f'<p id="live-checked-at">Read from both databases when this page was requested, at '
        f'<time datetime="{_e(live.get("checked_at"))}">{_e(_when(live.get("checked_at")))}</time>; '
        "ages are against that moment. Reload the page for new figures.</p>"
    )
    down = "".join(
        f'<p class="bad engine-down" data-engine="{_e(e["engine"])}">{_e(e["engine_label"])} unavailable: '
        f"{_e(e.get('error'))}</p>"
        for e in live.get("engines", [])
        if not e.get("available")
    )
    # A row whose error is its engine's (the engine is down) points at the line above
    # instead of repeating it.
    engine_errors = {e["engine"]: e.get("error") for e in live.get("engines", []) if not e.get("available")}
    errors = {
        id(r): (
            f"{r['engine_label']} did not answer (see above)"
            if r.get("error") and r.get("error") == engine_errors.get(r["engine"])
            else r.get("error")
        )
        for r in rows
    }
    summary = "".join(
        f'<li data-engine="{_e(r["engine"])}" data-mart="{_e(r["mart"])}" data-status="{_e(r["status"])}">'
        + (
            f"<strong>{_e(r['mart'])} on {_e(r['engine_label'])}: unavailable</strong> ({_e(errors[id(r)])})"
            if r["status"] == "unavailable"
            else f"<strong>{_e(r.get('summary'))}</strong>{_e(_live_context(r))}"
        )
        + "</li>"
        for r in rows
    )
    head = (
        '<tr><th rowspan="2">engine</th><th rowspan="2">mart</th><th colspan="3">newest event in the mart</th>'
        '<th colspan="4">newest message in the raw table of the same topic</th>'
        '<th rowspan="2" class="num">mart behind raw<br>(dbt lag)</th></tr>'
        '<tr><th>event column</th><th>event time</th><th class="num">age</th><th>raw table</th>'
        '<th>Kafka timestamp</th><th class="num">produced</th><th class="num">loaded (ingested_at)</th></tr>'
    )
    body = "".join(
        f'<tr data-engine="{_e(r["engine"])}" data-mart="{_e(r["mart"])}" data-status="{_e(r["status"])}" '
        f'data-age-seconds="{_e(r.get("mart_event_age_seconds"))}">'
        f"<td>{_e(r['engine_label'])}</td><td><code>{_e(r['mart'])}</code></td>"
        f"<td><code>{_e(r['event_column'])}</code></td>{_live_cells(r, errors[id(r)])}</tr>"
        for r in rows
    )
    meanings = "; ".join(
        f"<code>{_e(mart)}.{_e(c['column'])}</code>: {_e(c['meaning'])}"
        for mart, c in live.get("event_columns", {}).items()
    )
    timeout = live.get("statement_timeout_seconds")
    timeout = f"{timeout:g}" if isinstance(timeout, int | float) else timeout
    note = (
        f'<p class="note">Event time of a mart row: {meanings}. Raw behind now is ingestion lag (or a topic '
        "with no new messages); mart behind raw, both Kafka timestamps, is what dbt has not built yet. "
        "PostgreSQL answers through indexes (the newest offset of each Kafka partition; for "
        "<code>market_candle</code> the newest candle of each code and the candles loaded last), ClickHouse "
        f"with <code>max()</code> of the column; each statement may take at most {_e(timeout)} s, and an "
        "engine that does not answer shows as unavailable.</p>"
    )
    return (
        f'{title}{checked}{down}<ul class="summary" id="live-freshness-summary">{summary}</ul>'
        f'<table id="live-freshness-table"><thead>{head}</thead><tbody>{body}</tbody></table>{note}'
    )


def render_page(data: dict[str, Any]) -> str:
    stored = '<span class="badge stored">last benchmark run</span>'
    if data.get("results_error"):
        main = f'<p id="last-run" class="bad">{_e(data["results_error"])}</p>'
    elif not data.get("has_results"):
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
            f"<h2>Median latency per query {stored}</h2>"
            f'<figure><div class="legend">{legend}</div>{latency_chart(data["latency"])}'
            "<figcaption>Log scale. Bars: median of the timed repetitions; tick: p95. CH/PG below 1 means "
            "ClickHouse answered faster. Timed: sending the query over an open connection and receiving every "
            "row.</figcaption></figure>"
            f"{_latency_table(data['latency'])}"
        )
    stored_sections = ""
    if not data.get("results_error"):
        agreement, freshness = data.get("agreement", []), data.get("freshness", [])
        stored_sections = (
            f"<h2>Do both databases hold the same marts? {stored}</h2>"
            '<p class="note">Row count and order-independent checksum of each mart (dbt model '
            f"<code>mart_checksums</code>), {_snapshot_note(agreement, 'snapshotted')}</p>"
            f"{_agreement_table(agreement)}"
            f'<h2 id="stored-freshness">Freshness at the last benchmark run {stored}</h2>'
            '<p class="note">Not live (see <a href="#live-freshness">Freshness now</a> for that): newest Kafka '
            "message timestamp loaded into each raw table, and the newest one the mart built from it reflected, "
            f"{_snapshot_note(freshness, 'read')} The gap is how far the marts lagged ingestion then.</p>"
            f"{_freshness_table(freshness)}"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Engine comparison</title><style>{_CSS}</style></head><body>"
        "<h1>Engine comparison: PostgreSQL vs ClickHouse</h1>"
        '<p class="note">Figures marked <span class="badge live">live</span> are read from both databases '
        'when this page is requested; those marked <span class="badge stored">last benchmark run</span> were '
        "stored by the <code>dashboard_benchmark</code> DAG when it last ran.</p>"
        f"{live_freshness_section(data.get('live_freshness'))}"
        f"<h2>Last benchmark run {stored}</h2>"
        f"{main}"
        f"{stored_sections}"
        f"{data_quality_section(data.get('warnings') or [])}"
        "<footer><p>Benchmark figures: read from the <code>monitoring</code> schema in PostgreSQL, written by "
        "the <code>dashboard_benchmark</code> DAG; loading this page runs no benchmark query. Live freshness: "
        "a few index-backed reads per engine on every request.</p></footer>"
        "</body></html>"
    )
