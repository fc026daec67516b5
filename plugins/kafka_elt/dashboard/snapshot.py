"""What the marts hold when a benchmark runs, read from both engines: per mart its row
count and checksum (from the dbt comparison model), and data freshness.

Freshness compares Kafka timestamps: the newest message loaded into a raw table, and
the newest one that a mart built from it reflects. The gap is how far the marts lag
ingestion (dbt has not run since), independent of how old the data itself is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from kafka_elt.dashboard.engines import Engine

# The dbt comparison model: one row per mart with (mart_name, row_count, checksum),
# built in each engine's analytics schema/database.
CHECKSUM_RELATION = "analytics.mart_checksums"


@dataclass(frozen=True)
class FreshnessPair:
    raw_table: str
    mart: str
    # The mart column holding the Kafka timestamp of the newest message it reflects.
    mart_kafka_column: str


FRESHNESS_PAIRS = (
    FreshnessPair("raw.market_candle", "analytics.market_candle", "updated_at"),
    FreshnessPair("raw.web_logs", "analytics.user_footprint", "produced_at"),
)


class SnapshotFailed(RuntimeError):
    """Reading mart sizes, checksums or freshness failed; says which engine and relation."""


@dataclass(frozen=True)
class MartChecksum:
    mart_name: str
    engine: str
    row_count: int
    checksum: str  # text: PostgreSQL gives numeric(20, 0), ClickHouse UInt64


@dataclass(frozen=True)
class Freshness:
    engine: str
    raw_table: str
    mart_name: str
    raw_newest_kafka_at: dt.datetime | None
    mart_newest_kafka_at: dt.datetime | None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """ClickHouse hands back naive datetimes for DateTime64(_, 'UTC') columns."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _fetch(engine: Engine, sql: str, what: str) -> list[tuple]:
    try:
        return engine.fetch(sql)
    except Exception as exc:
        raise SnapshotFailed(
            f"reading {what} from {engine.name} failed: {exc}. Have the ingestion DAGs and dbt_marts run "
            f"for this engine (dbt build --target {engine.name})?"
        ) from exc


def read_checksums(engine: Engine, relation: str = CHECKSUM_RELATION) -> list[MartChecksum]:
    """Every mart's row count and checksum in one engine, from dbt's comparison model;
    ``relation`` names another build of it (a dbt target with a schema of its own)."""
    rows = _fetch(
        engine, f"select mart_name, row_count, checksum from {relation} order by mart_name", relation
    )
    if not rows:
        raise SnapshotFailed(f"{relation} on {engine.name} is empty: run dbt_marts first")
    return [MartChecksum(str(name), engine.name, int(count), str(checksum)) for name, count, checksum in rows]


def read_freshness(engine: Engine, pairs: Sequence[FreshnessPair] = FRESHNESS_PAIRS) -> list[Freshness]:
    # ClickHouse's max() of an empty non-Nullable column is 1970-01-01, not NULL.
    newest = "maxOrNull" if engine.name == "clickhouse" else "max"
    out = []
    for pair in pairs:
        sql = (
            f"select (select {newest}(kafka_timestamp) from {pair.raw_table}) as raw_newest, "
            f"(select {newest}({pair.mart_kafka_column}) from {pair.mart}) as mart_newest"
        )
        ((raw_newest, mart_newest),) = _fetch(engine, sql, f"{pair.raw_table} and {pair.mart}")
        out.append(
            Freshness(
                engine.name, pair.raw_table, pair.mart.split(".")[-1], _utc(raw_newest), _utc(mart_newest)
            )
        )
    return out


def default_code(engine: Engine) -> str | None:
    """The market code the OHLCV question shows when none is given: the first in
    latest_price, so that a benchmark of any data set has one (None if no candles)."""
    ((code,),) = _fetch(engine, "select min(code) from analytics.latest_price", "analytics.latest_price")
    return code or None


def mart_sizes(checksums: Sequence[MartChecksum]) -> dict[str, dict[str, int]]:
    """engine -> mart -> rows, for the benchmark results' snapshot column."""
    sizes: dict[str, dict[str, int]] = {}
    for c in checksums:
        sizes.setdefault(c.engine, {})[c.mart_name] = c.row_count
    return sizes


def checksums_by_engine(checksums: Sequence[MartChecksum]) -> dict[str, dict[str, tuple[int, str]]]:
    """engine -> mart -> (rows, checksum): equal between engines when the marts agree."""
    by_engine: dict[str, dict[str, tuple[int, str]]] = {}
    for c in checksums:
        by_engine.setdefault(c.engine, {})[c.mart_name] = (c.row_count, c.checksum)
    return by_engine


def disagreements(checksums: Sequence[MartChecksum], engines: Sequence[str]) -> list[str]:
    """Readable lines for every mart whose row count or checksum differs between engines
    (or that one engine lacks); empty when all agree."""
    by_mart: dict[str, dict[str, MartChecksum]] = {}
    for c in checksums:
        by_mart.setdefault(c.mart_name, {})[c.engine] = c
    lines = []
    for mart, per_engine in sorted(by_mart.items()):
        missing = [e for e in engines if e not in per_engine]
        if missing:
            lines.append(f"{mart}: missing on {', '.join(missing)}")
            continue
        first = per_engine[engines[0]]
        for other in engines[1:]:
            o = per_engine[other]
            if (o.row_count, o.checksum) != (first.row_count, first.checksum):
                lines.append(
                    f"{mart}: {engines[0]} {first.row_count} rows checksum {first.checksum}, "
                    f"{other} {o.row_count} rows checksum {o.checksum}"
                )
    return lines
