"""Freshness now: how old the newest event in each mart is, read live from both engines
whenever the Engine comparison page or its JSON API is requested.

Not stored anywhere, and independent of the ``dashboard_benchmark`` DAG (whose figures
are a snapshot taken when it last ran). Per mart and engine:

- the newest event in the mart and its age against now. The event time is a Kafka
  record timestamp, the producer's clock when the message was produced:
  ``market_candle.updated_at`` (of the candle's winning message) and
  ``user_footprint.produced_at`` (not ``footprint_time``: that is the visit time the
  producer wrote into the payload, which sample and replayed data set in the past);
- for context, the newest message in the raw table of the same topic: its Kafka
  timestamp (produced) and when the loader wrote it (``ingested_at``). Raw behind now is
  ingestion lag (or a quiet topic); mart behind raw, both Kafka timestamps, is dbt lag.

The queries stay cheap on tables of 10M rows and more:

- ClickHouse: ``maxOrNull()`` of one column, a fast columnar read.
- PostgreSQL marts: a btree on the event column (set in the dbt models), so ``max()``
  reads one index entry, exactly.
- PostgreSQL raw tables: no index on the timestamps (it would slow every load), but a
  btree on the Kafka coordinates ``(kafka_topic, kafka_partition, kafka_offset)``: the
  newest row of each partition is its highest offset, one index probe per partition
  (the partitions found by a skip scan over the same index), and the newest Kafka
  timestamp is the newest of those heads, since Kafka timestamps grow with the offset
  within a partition. (Rows written straight into a raw table with made-up offsets, as
  some tests do, or a topic recreated from offset 0, break that assumption; the raw
  figures are context, the mart figures are exact.)

Every statement is bounded (PostgreSQL ``statement_timeout``, ClickHouse
``max_execution_time`` and HTTP timeouts) and every engine has a deadline; an engine
that is down, slow or lacks a table shows as unavailable with the error, while the
other engine's figures still show.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka_elt.dashboard.engines import Engine, EngineUnavailable

log = logging.getLogger(__name__)

ENGINE_LABELS = {"postgres": "PostgreSQL", "clickhouse": "ClickHouse"}
# Per statement, enforced by the server (and ClickHouse's HTTP client).
STATEMENT_TIMEOUT_S = 2.0
# Per engine: connecting plus every query; past it the engine shows as unavailable.
ENGINE_DEADLINE_S = 5.0
# Clock differences below this are noise (the producer's clock vs the api-server's).
CLOCK_SKEW_TOLERANCE_S = 1.0
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class LiveTarget:
    """One mart, the column holding its rows' event time, and its topic's raw table."""

    mart: str
    event_column: str
    event_meaning: str
    raw_table: str

    @property
    def mart_name(self) -> str:
        return self.mart.split(".")[-1]


TARGETS = (
    LiveTarget(
        mart="analytics.market_candle",
        event_column="updated_at",
        event_meaning="Kafka timestamp of the candle's winning message (when it was produced)",
        raw_table="raw.market_candle",
    ),
    LiveTarget(
        mart="analytics.user_footprint",
        event_column="produced_at",
        event_meaning=(
            "Kafka timestamp of the visit event's message (when it was produced); not footprint_time, "
            "the visit time the producer wrote into the payload"
        ),
        raw_table="raw.web_logs",
    ),
)


# --- SQL ----------------------------------------------------------------------------


def postgres_partition_heads_sql(table: str, *columns: str) -> str:
    """``max()`` of ``columns`` over the newest row (highest offset) of every Kafka
    partition in ``table``: index probes on ``(kafka_topic, kafka_partition,
    kafka_offset)``, however many rows the table holds."""
    maxima = ", ".join(f"max(head.{c}) as {c}" for c in columns)
    picked = ", ".join(f"t.{c}" for c in columns)
    return f"""
with recursive partitions as (
    (select t.kafka_topic, t.kafka_partition from {table} as t order by t.kafka_topic, t.kafka_partition limit 1)
    union all
    select next_partition.kafka_topic, next_partition.kafka_partition
    from partitions
    cross join lateral (
        select t.kafka_topic, t.kafka_partition from {table} as t
        where (t.kafka_topic, t.kafka_partition) > (partitions.kafka_topic, partitions.kafka_partition)
        order by t.kafka_topic, t.kafka_partition
        limit 1
    ) as next_partition
)
select {maxima}
from partitions
cross join lateral (
    select {picked} from {table} as t
    where t.kafka_topic = partitions.kafka_topic and t.kafka_partition = partitions.kafka_partition
    order by t.kafka_offset desc
    limit 1
) as head
""".strip()


def clickhouse_max_sql(table: str, *columns: str) -> str:
    # maxOrNull: max() of an empty non-Nullable column is 1970-01-01 on ClickHouse.
    return f"select {', '.join(f'maxOrNull({c}) as {c}' for c in columns)} from {table}"


def queries(engine: str, target: LiveTarget) -> tuple[str, str]:
    """(raw SQL answering (newest kafka_timestamp, newest ingested_at), mart SQL answering
    (newest event time,)) for one engine."""
    if engine == "clickhouse":
        return (
            clickhouse_max_sql(target.raw_table, "kafka_timestamp", "ingested_at"),
            clickhouse_max_sql(target.mart, target.event_column),
        )
    if engine == "postgres":
        # The marts carry a btree index on their event column (dbt model configs): max()
        # reads one index entry. The raw tables have none (it would slow every COPY), so
        # they are read at the newest offset of each partition (Kafka's order).
        mart_sql = f"select max({target.event_column}) from {target.mart}"
        return postgres_partition_heads_sql(target.raw_table, "kafka_timestamp", "ingested_at"), mart_sql
    raise ValueError(f"unknown engine {engine!r}")


# --- what was read --------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One engine's answers for one target; ``None`` where a read failed (see errors) or
    the table is empty."""

    raw_newest_kafka_at: dt.datetime | None = None
    raw_last_ingested_at: dt.datetime | None = None
    mart_newest_event_at: dt.datetime | None = None
    raw_error: str | None = None
    mart_error: str | None = None


def as_utc(value: Any) -> dt.datetime | None:
    """tz-aware UTC; ClickHouse hands back naive datetimes for DateTime64(_, 'UTC')."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a timestamp, got {type(value).__name__}: {value!r}")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def short_error(exc: BaseException) -> str:
    """The exception's type and first line, bounded: shown on the page. (Our own
    EngineUnavailable says what failed and what to check; its name adds nothing.)"""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not (text and isinstance(exc, EngineUnavailable)):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "\u2026"


def read_target(engine: Engine, target: LiveTarget) -> Observation:
    """Both queries for one target on one engine; a failing query becomes its error."""
    raw_sql, mart_sql = queries(engine.name, target)
    found: dict[str, Any] = {}
    try:
        ((kafka_at, ingested_at),) = engine.fetch(raw_sql)
        found.update(raw_newest_kafka_at=as_utc(kafka_at), raw_last_ingested_at=as_utc(ingested_at))
    except Exception as exc:
        log.warning("live freshness: reading %s on %s failed", target.raw_table, engine.name, exc_info=True)
        found["raw_error"] = f"{target.raw_table}: {short_error(exc)}"
    try:
        ((event_at,),) = engine.fetch(mart_sql)
        found["mart_newest_event_at"] = as_utc(event_at)
    except Exception as exc:
        log.warning("live freshness: reading %s on %s failed", target.mart, engine.name, exc_info=True)
        found["mart_error"] = f"{target.mart}: {short_error(exc)}"
    return Observation(**found)


# --- formatting (pure) ----------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """A non-negative span for a reader: '12 s', '9 min', '5 h 3 min', '3 d 4 h'."""
    seconds = max(float(seconds), 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_age(seconds: float | None) -> str:
    """How long ago: '12 s ago'; a time ahead of now beyond clock noise says so."""
    if seconds is None:
        return "\u2013"
    if seconds < -CLOCK_SKEW_TOLERANCE_S:
        return f"{format_duration(-seconds)} in the future (clock skew?)"
    return f"{format_duration(seconds)} ago"


def format_gap(seconds: float | None) -> str:
    """Mart behind raw: '0 s', '4 min'; negative means the raw read came first and the
    mart has since moved on, or clocks differ: shown as such, never hidden."""
    if seconds is None:
        return "\u2013"
    if seconds < -CLOCK_SKEW_TOLERANCE_S:
        return f"mart ahead by {format_duration(-seconds)}"
    return format_duration(seconds)


def _seconds(later: dt.datetime | None, earlier: dt.datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 3)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def freshness_row(
    engine: str, target: LiveTarget, observation: Observation, now: dt.datetime
) -> dict[str, Any]:
    """One engine's live freshness of one mart, as the page and the JSON API show it.

    ``status``: ``ok`` (the mart has rows: its newest event and age), ``empty`` (the
    query ran, the mart has no rows), ``unavailable`` (the mart could not be read; see
    ``error``). The raw columns are filled independently when the raw read worked.
    """
    o = observation
    errors = list(dict.fromkeys(e for e in (o.mart_error, o.raw_error) if e))
    if o.mart_error:
        status = "unavailable"
    elif o.mart_newest_event_at is None:
        status = "empty"
    else:
        status = "ok"
    row = {
        "engine": engine,
        "engine_label": ENGINE_LABELS.get(engine, engine),
        "mart": target.mart_name,
        "event_column": target.event_column,
        "status": status,
        "mart_newest_event_at": _iso(o.mart_newest_event_at),
        "mart_event_age_seconds": _seconds(now, o.mart_newest_event_at),
        "raw_table": target.raw_table,
        "raw_newest_kafka_at": _iso(o.raw_newest_kafka_at),
        "raw_newest_age_seconds": _seconds(now, o.raw_newest_kafka_at),
        "raw_last_ingested_at": _iso(o.raw_last_ingested_at),
        "raw_ingested_age_seconds": _seconds(now, o.raw_last_ingested_at),
        "mart_behind_raw_seconds": _seconds(o.raw_newest_kafka_at, o.mart_newest_event_at),
        "error": "; ".join(errors) or None,
    }
    row["summary"] = describe(row)
    return row


def describe(row: Mapping[str, Any]) -> str:
    """'market_candle on ClickHouse: newest event 12 s ago' (or why there is none)."""
    head = f"{row['mart']} on {row['engine_label']}"
    if row["status"] == "ok":
        return f"{head}: newest event {format_age(row['mart_event_age_seconds'])}"
    if row["status"] == "empty":
        return f"{head}: no rows yet"
    return f"{head}: unavailable ({row['error']})"


# --- reading both engines, bounded ----------------------------------------------------


def _read_engine(open_engine: Callable[[], Engine], targets: Sequence[LiveTarget]) -> list[Observation]:
    engine = open_engine()
    try:
        return [read_target(engine, target) for target in targets]
    finally:
        try:
            engine.close()
        except Exception:
            log.debug("live freshness: closing the engine failed", exc_info=True)


def read_live_freshness(
    openers: Mapping[str, Callable[[], Engine]],
    targets: Sequence[LiveTarget] = TARGETS,
    *,
    deadline_s: float = ENGINE_DEADLINE_S,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> dict[str, Any]:
    """Read every engine at once, each in its own daemon thread with ``deadline_s`` to
    connect and answer; an engine that fails or misses the deadline is reported, never
    raised. ``openers``: engine name -> a function opening that engine (with its
    timeouts set). Ages are against ``clock()`` read after the answers arrived."""
    results: dict[str, list[Observation] | BaseException] = {}
    elapsed: dict[str, float] = {}

    def work(name: str, opener: Callable[[], Engine]) -> None:
        started = time.perf_counter()
        try:
            results[name] = _read_engine(opener, targets)
        except BaseException as exc:  # reported on the page, not raised
            log.warning("live freshness: %s unavailable", name, exc_info=True)
            results[name] = exc
        finally:
            elapsed[name] = time.perf_counter() - started

    threads = {
        name: threading.Thread(target=work, args=(name, opener), name=f"live-freshness-{name}", daemon=True)
        for name, opener in openers.items()
    }
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + deadline_s
    for thread in threads.values():
        thread.join(max(deadline - time.monotonic(), 0.0))
    now = clock()

    engines, rows = [], []
    for name in openers:
        outcome = results.get(name)
        if outcome is None:  # still running: leave it to its own timeouts
            error = f"no answer within {deadline_s:g} s"
        elif isinstance(outcome, BaseException):
            error = short_error(outcome)
        else:
            error = None
        engines.append(
            {
                "engine": name,
                "engine_label": ENGINE_LABELS.get(name, name),
                "available": error is None,
                "error": error,
                "elapsed_ms": round(elapsed[name] * 1000, 1) if name in elapsed else None,
            }
        )
        observations = (
            outcome
            if isinstance(outcome, list)
            else [Observation(raw_error=error, mart_error=error)] * len(targets)
        )
        rows += [freshness_row(name, t, o, now) for t, o in zip(targets, observations, strict=True)]
    return {
        "checked_at": now.isoformat(),
        "statement_timeout_seconds": STATEMENT_TIMEOUT_S,
        "deadline_seconds": deadline_s,
        "event_columns": {
            t.mart_name: {"column": t.event_column, "meaning": t.event_meaning} for t in targets
        },
        "engines": engines,
        "rows": rows,
    }
