"""The Engine comparison page and its JSON API, as a FastAPI app that Airflow's
api-server mounts (see ``plugins/engine_comparison_plugin.py``).

Authentication and authorisation are Airflow's own: every route depends on
``requires_access_view(AccessView.WEBSITE)`` from ``airflow.api_fastapi.core_api.security``,
the dependency Airflow's own UI routes use. It reads the JWT from an ``Authorization:
Bearer`` header or from the ``_token`` cookie that the UI's login sets, validates it with
the api-server's JWT secret, and asks the configured auth manager whether that user may
use the UI. No token: 401; an invalid or expired one: 401/403. For the HTML page a
browser is sent to Airflow's login page instead, and back here afterwards.

Every request also reads the marts' freshness live from both engines
(``kafka_elt.dashboard.live_freshness``): bounded queries, an engine that is down shows
as unavailable on the page instead of failing it. When the results in ``monitoring``
cannot be read, the page and the API answer 503 and still carry the live freshness.

Imports Airflow's API modules: only the api-server imports it, on the first request
(see ``kafka_elt.dashboard.ui``).
"""

from __future__ import annotations

import logging
from functools import partial
from urllib.parse import quote, urlsplit

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import requires_access_view

# The hooks, imported here rather than in the threads that open the engines (concurrent
# first imports of Airflow modules are not safe).
from airflow.providers.clickhousedb.hooks.clickhouse import ClickHouseHook  # noqa: F401
from airflow.providers.postgres.hooks.postgres import PostgresHook
from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kafka_elt.dashboard.engines import open_clickhouse, open_postgres
from kafka_elt.dashboard.live_freshness import STATEMENT_TIMEOUT_S, read_live_freshness
from kafka_elt.dashboard.page_data import load_page_data
from kafka_elt.dashboard.page_html import render_page
from kafka_elt.dashboard.ui import UI_ROUTE, URL_PREFIX
from kafka_elt.settings import CLICKHOUSE_CONN_ID, POSTGRES_CONN_ID

log = logging.getLogger(__name__)


# Filled bars in the page's two engine colours (lightened): readable on the navigation's
# light background and on its dark "selected" one, since an <img> cannot take the
# theme's text colour.
_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">'
    '<rect x="3" y="10" width="5" height="11" rx="1" fill="#6f9bd1"/>'
    '<rect x="10" y="4" width="5" height="17" rx="1" fill="#e0a000"/>'
    '<rect x="17" y="13" width="5" height="8" rx="1" fill="#6f9bd1"/></svg>'
)

app = FastAPI(
    title="Engine comparison",
    description=(
        "PostgreSQL vs ClickHouse for the dashboard: freshness of the marts now (live), and the latest "
        "benchmark's latency, mart agreement and freshness (stored)."
    ),
)
_authorized = [Depends(requires_access_view(AccessView.WEBSITE))]


class ResultsUnavailable(RuntimeError):
    """The results database could not be read."""


def _page_data() -> dict:
    try:
        with PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_conn() as conn:
            return load_page_data(conn)
    except Exception as exc:
        log.exception(
            "engine comparison: reading monitoring.* through connection %r failed", POSTGRES_CONN_ID
        )
        raise ResultsUnavailable(
            f"cannot read the benchmark results from PostgreSQL (Airflow connection {POSTGRES_CONN_ID!r}): "
            f"{type(exc).__name__}. Is the warehouse up? The api-server log has the details."
        ) from exc


def _live_freshness() -> dict:
    """Both engines' freshness now; never raises (an engine's failure is in the result)."""
    return read_live_freshness(
        {
            "postgres": partial(open_postgres, POSTGRES_CONN_ID, statement_timeout_s=STATEMENT_TIMEOUT_S),
            "clickhouse": partial(open_clickhouse, CLICKHOUSE_CONN_ID, timeout_s=STATEMENT_TIMEOUT_S),
        }
    )


# What the API's top-level keys hold: live for this request, or stored by the benchmark.
SOURCES = {
    "live_freshness": "live: read from both engines for this response (see live_freshness.checked_at)",
    "last_run": "stored: the last dashboard_benchmark run (last_run.run_at, last_run.run_id)",
    "latency": "stored: the last dashboard_benchmark run",
    "agreement": "stored: mart checksums snapshotted by the last dashboard_benchmark run (taken_at)",
    "freshness": "stored: freshness read by the last dashboard_benchmark run (taken_at)",
}


def _with_live(data: dict, live: dict) -> dict:
    return jsonable_encoder({**data, "live_freshness": live, "sources": SOURCES})


def _airflow_base_path() -> str:
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="/")).path.rstrip("/")


@app.exception_handler(StarletteHTTPException)
async def _login_redirect(request: Request, exc: StarletteHTTPException) -> Response:
    """A browser opening the page without a session goes to Airflow's login, then back
    to the page inside the UI; API clients get the plain 401/403."""
    is_page = request.url.path.rstrip("/") == f"{_airflow_base_path()}{URL_PREFIX}"
    if exc.status_code == 401 and is_page and request.method == "GET":
        base = _airflow_base_path()
        return RedirectResponse(f"{base}/auth/login?next={quote(f'{base}/plugin/{UI_ROUTE}', safe='')}")
    return await http_exception_handler(request, exc)


@app.get("/api/summary", dependencies=_authorized)
def summary() -> Response:
    """Freshness of every mart per engine now (``live_freshness``, read for this request),
    and as stored by the dashboard_benchmark DAG's last run: latency per query and engine
    with the ClickHouse/PostgreSQL ratio, mart agreement and freshness then. 503 (with
    the live freshness) when the stored results cannot be read."""
    live = _live_freshness()
    try:
        data = _page_data()
    except ResultsUnavailable as exc:
        return JSONResponse(_with_live({"detail": str(exc)}, live), status_code=503)
    return JSONResponse(_with_live(data, live), headers={"Cache-Control": "no-store"})


@app.get("/", response_class=HTMLResponse, dependencies=_authorized)
def page() -> HTMLResponse:
    # Fresh figures on every visit: the page is small, reads the results views and a
    # few index-backed rows per engine for the live freshness.
    live = _live_freshness()
    try:
        data, status = _with_live(_page_data(), live), 200
    except ResultsUnavailable as exc:
        data, status = {"results_error": str(exc), "live_freshness": live}, 503
    return HTMLResponse(render_page(data), status_code=status, headers={"Cache-Control": "no-store"})


@app.get("/icon.svg", include_in_schema=False)
def icon() -> Response:
    """The navigation icon. Public: the UI loads it as an image, and it holds no data."""
    return Response(_ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})
