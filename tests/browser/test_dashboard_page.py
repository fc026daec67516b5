"""The Engine comparison page in a real headless Chromium, logged into the real Airflow UI.

Chromium (Debian's package, `make install-browser`) is driven over the DevTools protocol
with the `websockets` client that Airflow already depends on: no Selenium, no driver
binary, nothing fetched from the network.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1440,1100",
]


class Chromium:
    """One headless Chromium with a fresh profile, and a flat DevTools session to it."""

    def __init__(self) -> None:
        from websockets.sync.client import connect

        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            pytest.fail("Chromium is not installed: run `make install-browser` (Debian package `chromium`)")
        self.profile = Path(tempfile.mkdtemp(prefix="kafka-elt-chromium-"))
        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                pytest.fail("Chromium did not open its DevTools port within 30 s")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self._exit = contextlib.ExitStack()
        self.ws = self._exit.enter_context(
            connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024, open_timeout=10)
        )
        self._ids = itertools.count(1)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:  # events arrive interleaved with answers; skip them
            reply = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                return reply["result"]

    def new_page(self, isolated: bool = False) -> Page:
        """A tab; ``isolated`` gives it its own cookie jar (a visitor who never logged in)."""
        params: dict = {"url": "about:blank"}
        if isolated:
            params["browserContextId"] = self.send("Target.createBrowserContext")["browserContextId"]
        target = self.send("Target.createTarget", params)["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.call("Page.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1440, "height": 1100, "deviceScaleFactor": 1, "mobile": False},
        )
        return page

    def close(self) -> None:
        if getattr(self, "_exit", None):
            self._exit.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser, self.session = browser, session

    def call(self, method: str, params: dict | None = None):
        return self.browser.send(method, params, session=self.session)

    def js(self, expression: str):
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def wait_for(self, expression: str, what: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except RuntimeError:
                value = None  # navigating: the old document is gone
            if value:
                return value
            time.sleep(0.25)
        url = self.js("location.href")
        self.screenshot(OUTPUT / "dashboard_page_timeout.png")
        pytest.fail(
            f"timed out after {timeout:.0f}s waiting for {what} (page at {url}); screenshot in test-output/"
        )

    def type_into(self, selector: str, text: str) -> None:
        # Real key input, so React's controlled inputs see it as a user would type it.
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", {"text": text})

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@pytest.fixture(scope="module")
def chromium():
    browser = Chromium()
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def latest_figures(stack):
    """The latest benchmark run's figures as the results view holds them (running the
    benchmark first when the stack has none yet)."""
    from tests.support.benchmark_runs import latest_latency, run_benchmark_dag

    rows = latest_latency(stack)
    if not rows:
        run_benchmark_dag(stack, repetitions=3, warmups=1)
        rows = latest_latency(stack)
    assert rows, "no benchmark results in monitoring.engine_latency_ratio even after running the DAG"
    return rows


def stored_medians(stack, run_id: str) -> dict[tuple[str, str], float]:
    """(query, engine) -> median ms of one run, straight from the results table."""
    from tests.support.benchmark_runs import run_results

    return {(r["query_name"], r["engine"]): r["median_ms"] for r in run_results(stack, run_id)}


# (engine, mart) pairs of the page's live freshness.
LIVE_PAIRS = {(e, m) for e in ("postgres", "clickhouse") for m in ("market_candle", "user_footprint")}
# The mart column holding each mart's event time (a Kafka timestamp), as the page reads it.
EVENT_COLUMNS = {"market_candle": "updated_at", "user_footprint": "produced_at"}


def _utc(value: str | dt.datetime) -> dt.datetime:
    value = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _age_of(iso: str) -> float:
    return (dt.datetime.now(dt.UTC) - _utc(iso)).total_seconds()


def exact_newest(pg_conn, ch_client) -> dict[tuple[str, str], dt.datetime]:
    """(engine, mart) -> max(event column) over the whole mart: the slow, exact answer the
    page's cheap queries must give."""
    newest = {}
    with pg_conn.cursor() as cur:
        for mart, column in EVENT_COLUMNS.items():
            cur.execute(f"select max({column}) from analytics.{mart}")
            newest["postgres", mart] = _utc(cur.fetchone()[0])
    pg_conn.rollback()  # no snapshot held open between the reads
    for mart, column in EVENT_COLUMNS.items():
        newest["clickhouse", mart] = _utc(
            ch_client.query(f"select max({column}) from analytics.{mart}").result_rows[0][0]
        )
    return newest


IFRAME = "document.querySelector('iframe[title=\"Engine comparison\"]')"
DOC = f"({IFRAME} && {IFRAME}.contentDocument)"


def test_logged_in_user_sees_chart_and_agreement_table_with_real_numbers(stack, chromium, latest_figures):
    page = chromium.new_page()
    page.goto(f"{stack.airflow_url}/auth/login?next=/plugin/engine-comparison")
    page.wait_for("!!document.querySelector('input[name=password]')", "the Airflow login form")
    page.type_into("input[name=username]", stack["AIRFLOW_ADMIN_USER"])
    page.type_into("input[name=password]", stack["AIRFLOW_ADMIN_PASSWORD"])
    page.js("document.querySelector('button[type=submit]').click()")

    # The page sits in the UI's navigation and opens inside the UI, in an iframe.
    page.wait_for("location.pathname.endsWith('/plugin/engine-comparison')", "the redirect back to the page")
    page.wait_for(
        "[...document.querySelectorAll('a, button')].some(e => e.href?.endsWith('/plugin/engine-comparison') "
        "|| (e.getAttribute('aria-label') || e.title || e.textContent).includes('Engine comparison'))",
        "the 'Engine comparison' entry in the navigation",
    )
    page.wait_for(
        f"{DOC} && {DOC}.querySelectorAll('#latency-chart rect.bar').length > 0", "the latency chart"
    )
    bars = page.js(
        f"[...{DOC}.querySelectorAll('#latency-chart rect.bar')].map(r => "
        "[r.dataset.query, r.dataset.engine, parseFloat(r.dataset.medianMs), r.getBoundingClientRect().width])"
    )
    agreement = page.js(
        f"[...{DOC}.querySelectorAll('#agreement-table tbody tr')].map(tr => "
        "[...tr.querySelectorAll('td')].map(td => td.innerText.trim()))"
    )
    # The live freshness block is part of the same document: no waiting beyond the chart.
    live_rows = page.js(
        f"[...{DOC}.querySelectorAll('#live-freshness-table tbody tr')].map(tr => "
        "[tr.dataset.engine, tr.dataset.mart, tr.dataset.status, tr.dataset.ageSeconds])"
    )
    live_summary = page.js(
        f"[...{DOC}.querySelectorAll('#live-freshness-summary li')].map(li => li.innerText.trim())"
    )
    live_checked_at = page.js(f"{DOC}.querySelector('#live-checked-at time')?.getAttribute('datetime')")
    last_run = page.js(f"{DOC}.querySelector('#last-run').innerText")
    run_id = page.js(f"{DOC}.querySelector('#last-run code').innerText")
    screenshot = page.screenshot(OUTPUT / "dashboard_page.png")

    # Every query has a visible bar per engine, carrying exactly the median stored for
    # the run the page names (read by run id: a scheduled run may have finished since).
    stored = stored_medians(stack, run_id)
    assert {q for q, _ in stored} >= {r["query_name"] for r in latest_figures}
    shown = {(q, e): median for q, e, median, _ in bars}
    assert shown.keys() == stored.keys()
    for key, median in shown.items():
        assert median == pytest.approx(stored[key], abs=0.0005), key
        assert median > 0, key
    assert all(width >= 1 for *_, width in bars)

    # One agreement row per mart, with real row counts from both databases.
    assert len(agreement) >= 6, agreement
    for mart, pg_rows, ch_rows, pg_sum, ch_sum, verdict in agreement:
        assert pg_rows.replace(",", "").isdigit() and ch_rows.replace(",", "").isdigit(), (
            mart,
            pg_rows,
            ch_rows,
        )
        assert pg_sum.isdigit() and ch_sum.isdigit(), (mart, pg_sum, ch_sum)
        assert verdict in ("agree", "differ")
    assert sum(int(row[1].replace(",", "")) for row in agreement) > 0

    assert "Benchmark last ran" in last_run
    assert screenshot.stat().st_size > 20_000

    # Freshness now, read live for this page load: every mart on both engines, with an age.
    assert live_rows, "the page has no live freshness block (#live-freshness-table)"
    assert {(engine, mart) for engine, mart, *_ in live_rows} == LIVE_PAIRS, live_rows
    for engine, mart, status, age in live_rows:
        assert status == "ok", (engine, mart, status, live_summary)
        assert float(age) > -5, (engine, mart, age)  # a Kafka timestamp, not in the future
    assert len(live_summary) == len(LIVE_PAIRS)
    for line in live_summary:
        assert " newest event " in line and " ago" in line, line
    assert _age_of(live_checked_at) < 120, live_checked_at  # read for this request


def test_visitor_without_a_session_is_sent_to_the_login_page(stack, chromium):
    page = chromium.new_page(isolated=True)
    page.goto(f"{stack.airflow_url}/engine-comparison/")
    page.wait_for("location.pathname.startsWith('/auth/login')", "the redirect to Airflow's login")
    page.wait_for("!!document.querySelector('input[name=password]')", "the login form")
    assert not page.js("!!document.querySelector('#latency-chart')")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, {401}),
        ({"Authorization": "Bearer not-a-jwt"}, {401, 403}),
        ({"Cookie": "_token=not-a-jwt"}, {401, 403}),
    ],
    ids=["no-credentials", "bad-bearer", "bad-cookie"],
)
def test_api_refuses_unauthenticated_requests(stack, headers, expected):
    request = urllib.request.Request(f"{stack.airflow_url}/engine-comparison/api/summary", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code in expected
    assert b"latency" not in refused.value.read()


def test_api_answers_with_a_valid_token(stack, latest_figures):
    from kafka_elt.stack.airflow import token

    request = urllib.request.Request(
        f"{stack.airflow_url}/engine-comparison/api/summary",
        headers={"Authorization": f"Bearer {token(stack)}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert body["has_results"] is True
    assert {r["query_name"] for r in body["latency"]} == {r["query_name"] for r in latest_figures}
    assert body["sources"]["live_freshness"].startswith("live")
    assert body["sources"]["latency"].startswith("stored")


def test_api_freshness_is_read_live_and_equals_the_newest_event_in_each_mart(stack, pg_conn, ch_client):
    """The index-walking queries give the same newest event as a full max() over the mart:
    between an exact read before the request and one after it (the pipeline may be
    writing meanwhile)."""
    from kafka_elt.stack.airflow import token

    request = urllib.request.Request(
        f"{stack.airflow_url}/engine-comparison/api/summary",
        headers={"Authorization": f"Bearer {token(stack)}"},
    )
    before = exact_newest(pg_conn, ch_client)
    started = dt.datetime.now(dt.UTC)
    with urllib.request.urlopen(request, timeout=30) as response:
        live = json.load(response)["live_freshness"]
    finished = dt.datetime.now(dt.UTC)
    after = exact_newest(pg_conn, ch_client)

    assert started - dt.timedelta(seconds=1) <= _utc(live["checked_at"]) <= finished + dt.timedelta(seconds=1)
    assert all(e["available"] for e in live["engines"]), live["engines"]
    rows = {(r["engine"], r["mart"]): r for r in live["rows"]}
    assert rows.keys() == LIVE_PAIRS
    for key, row in rows.items():
        assert row["status"] == "ok", row
        assert row["event_column"] == EVENT_COLUMNS[key[1]]
        shown = _utc(row["mart_newest_event_at"])
        assert before[key] <= shown <= after[key], (key, before[key], shown, after[key])
        assert row["mart_event_age_seconds"] == pytest.approx(
            (_utc(live["checked_at"]) - shown).total_seconds(), abs=0.01
        )
        assert row["raw_newest_kafka_at"] and row["raw_last_ingested_at"], row
        assert row["summary"].startswith(f"{key[1]} on "), row
