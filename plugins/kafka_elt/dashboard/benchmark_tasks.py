"""What the dashboard_benchmark DAG's tasks do, as plain functions: the DAG file only
wires them, inside ``airflow_outcome()`` (no comparison possible: skip; a real
disagreement: fail, not retried).

Every comparison (the mart checksums, each query's answers) is read under the build
guard (``build_guard.on_same_build``): only while both engines hold the same finished
dbt build. Connections come from Airflow connections; Airflow is imported inside the
functions, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from kafka_elt.dashboard.build_guard import DEFAULT_WAIT_S, BuildsUnsettled, on_same_build, read_builds
from kafka_elt.settings import CLICKHOUSE_CONN_ID, POSTGRES_CONN_ID


class EnginesDisagree(RuntimeError):
    """Both engines held the same finished dbt build and still answered differently: the
    difference is in the marts. The message shows the differing rows."""


@contextlib.contextmanager
def airflow_outcome() -> Iterator[None]:
    """Turn the guard's "could not compare" into a skip and a disagreement into a failure
    that is not retried (the same build gives the same answers)."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    try:
        yield
    except BuildsUnsettled as exc:
        raise AirflowSkipException(str(exc)) from exc
    except EnginesDisagree as exc:
        raise AirflowFailException(str(exc)) from exc


def _postgres_conn():
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_conn()


def snapshot_marts(
    *, run_id: str, run_at: dt.datetime, code: str | None, wait_s: float = DEFAULT_WAIT_S
) -> dict:
    """Create the results tables; store mart sizes, checksums and freshness read while
    both engines held one finished build; return what the other tasks need."""
    from kafka_elt.dashboard import snapshot, store
    from kafka_elt.dashboard.engines import open_engines

    engines = open_engines(POSTGRES_CONN_ID, CLICKHOUSE_CONN_ID)

    def read_marts() -> tuple[list[snapshot.MartChecksum], list[snapshot.Freshness]]:
        checksums = [c for e in engines for c in snapshot.read_checksums(e)]
        return checksums, [f for e in engines for f in snapshot.read_freshness(e)]

    try:
        guarded = on_same_build(
            lambda: read_builds(engines), read_marts, what="the mart checksums", wait_s=wait_s
        )
        code = code or snapshot.default_code(engines[0])
    finally:
        for engine in engines:
            engine.close()
    checksums, freshness = guarded.value
    with _postgres_conn() as conn:
        store.apply_schema(conn)
        store.save_checksums(
            conn, run_id=run_id, taken_at=run_at, checksums=checksums, build_id=guarded.build_id
        )
        store.save_freshness(conn, run_id=run_id, taken_at=run_at, freshness=freshness)
    return {
        "run_at": run_at.isoformat(),
        "build_id": guarded.build_id,
        "mart_sizes": snapshot.mart_sizes(checksums),
        "mart_disagreements": snapshot.disagreements(checksums, [e.name for e in engines]),
        "query_params": {"code": code},
    }


def benchmark(
    query_name: str,
    snapshot: dict[str, Any],
    *,
    run_id: str,
    warmups: int,
    repetitions: int,
    wait_s: float = DEFAULT_WAIT_S,
) -> dict[str, float]:
    """Time one query on both engines while both hold one finished build (the timed runs
    are inside the guard too, so the figures belong to that build), store the figures,
    raise EnginesDisagree if the answers differ. Returns engine -> median ms."""
    from kafka_elt.dashboard import store
    from kafka_elt.dashboard.engines import open_engines
    from kafka_elt.dashboard.queries import load_queries
    from kafka_elt.dashboard.runner import benchmark_query

    query = {q.name: q for q in load_queries()}[query_name]
    engines = open_engines(POSTGRES_CONN_ID, CLICKHOUSE_CONN_ID)
    try:
        guarded = on_same_build(
            lambda: read_builds(engines),
            lambda: benchmark_query(
                query, engines, warmups=warmups, repetitions=repetitions, params=snapshot["query_params"]
            ),
            what=f"dashboard query {query_name!r}",
            wait_s=wait_s,
        )
    finally:
        for engine in engines:
            engine.close()
    result = guarded.value
    with _postgres_conn() as conn:
        store.save_benchmark(
            conn,
            run_id=run_id,
            run_at=dt.datetime.fromisoformat(snapshot["run_at"]),
            benchmark=result,
            warmups=warmups,
            mart_sizes=snapshot["mart_sizes"],
            build_id=guarded.build_id,
        )
    if not result.comparison.agree:
        raise EnginesDisagree(
            f"{result.disagreement()}\nBoth engines held dbt build {guarded.build_id} before and after the "
            "queries, so the difference is in the marts, not a rebuild in between."
        )
    return {engine: run.stats.median_ms for engine, run in result.runs.items()}


def check_marts_agree(snapshot: dict[str, Any]) -> None:
    """Every mart has the same row count and checksum in both databases."""
    if snapshot["mart_disagreements"]:
        raise EnginesDisagree(
            "marts differ between PostgreSQL and ClickHouse (from dbt's mart_checksums, read while both "
            f"held dbt build {snapshot['build_id']}):\n  "
            + "\n  ".join(snapshot["mart_disagreements"])
            + "\nRe-run dbt_marts; if they still differ, compare the marts' rows for the keys involved."
        )


def _fmt(value: float | None, width: int) -> str:
    return f"{value:{width}.2f}" if value is not None else f"{'-':>{width}}"


def latency_report() -> str:
    """The ClickHouse/PostgreSQL latency ratio per query of the latest run, as a table."""
    with _postgres_conn() as conn:
        rows = conn.execute(
            "select query_name, postgres_median_ms, clickhouse_median_ms, clickhouse_to_postgres_ratio, "
            "results_agree from monitoring.engine_latency_ratio order by query_name"
        ).fetchall()
    lines = [f"{'query':28} {'postgres ms':>12} {'clickhouse ms':>14} {'CH/PG':>7}  agree"]
    lines += [f"{q:28} {_fmt(pg, 12)} {_fmt(ch, 14)} {_fmt(ratio, 7)}  {ok}" for q, pg, ch, ratio, ok in rows]
    return "\n".join(lines)
