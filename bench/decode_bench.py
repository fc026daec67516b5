"""Per-message CPU of the drain's own work (decode, encode for PostgreSQL, for ClickHouse),
and generated raw tables to time dbt over.

    .venv/bin/python bench/decode_bench.py                  # cpu: 200,000 messages per kind
    .venv/bin/python bench/decode_bench.py cpu --messages 50000 --repeats 3
    .venv/bin/python bench/decode_bench.py load --raw-schema raw_bench \
        --postgres "host=127.0.0.1 port=55432 user=postgres dbname=bench" \
        --clickhouse "http://user:password@127.0.0.1:58123" --page-visits 1000000 --candles 500000

``cpu``: no Kafka and no database. The generated messages (``kafka_elt.producers.sample``, as
``confluent_kafka.Message`` objects) go through ``Batch.extend`` (the drain's hot loop:
validation and decoding) in batches of 50,000, then through the real sinks with stand-in
connections: ``PostgresSink.stage`` builds its binary COPY stream, ``ClickHouseSink.write``
its columns, which clickhouse-connect then serialises to the Native format it would send.
What is left out (the network, the servers' work) is the same whichever version runs.

CPU is ``time.process_time`` per message, the best of ``--repeats`` runs.

``load``: the same generated messages (seeded, so every run loads the same values at the
same offsets over 3 partitions) into ``<raw schema>`` of both databases, through the raw
DDL and the real sinks, batch by batch in the drain's order (stage in PostgreSQL, insert
into ClickHouse, commit). Point dbt at it with DBT_RAW_SCHEMA (see dbt/README.md).

To compare two versions of the code, run the script with each on ``PYTHONPATH`` (and
KAFKA_ELT_INCLUDE_DIR at that version's include/): it only uses what both versions share.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

from kafka_elt.ingest.batch import Batch
from kafka_elt.ingest.clickhouse_sink import ClickHouseSink
from kafka_elt.ingest.postgres_sink import PostgresSink
from kafka_elt.ingest.registry import get_topic
from kafka_elt.ingest.validators import KINDS
from kafka_elt.producers.sample import candle_messages, footprint_messages

ROOT = Path(__file__).resolve().parents[1]
BATCH_SIZE = 50_000


# --------------------------------------------------------------- stand-in connections


class _Cursor:
    rowcount = 0

    def __init__(self, sink: list) -> None:
        self.sink = sink

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def execute(self, *args) -> None:
        return None

    def fetchone(self):
        return (False,)  # "none of the batch's offsets is stored yet": the first-load path

    @contextmanager
    def copy(self, _statement):
        class _Copy:
            write = self.sink.append

        yield _Copy()


class FakePostgres:
    """What PostgresSink needs of a psycopg connection; keeps the COPY bytes."""

    def __init__(self) -> None:
        self.copied: list[bytes] = []

    def cursor(self):
        return _Cursor(self.copied)

    def commit(self) -> None:
        self.copied.clear()

    def close(self) -> None:
        return None


def _clickhouse_types() -> dict[str, str]:
    """Column -> ClickHouse type, from the DDL files the stack applies (all of them)."""
    import re

    types: dict[str, str] = {}
    for path in sorted((ROOT / "include" / "sql" / "clickhouse").glob("*.sql")):
        columns = re.findall(
            r"(?:^\s+|add column if not exists )(\w+) ([A-Z]\w*(?:\(.*?\)+)?)", path.read_text(), re.M
        )
        for name, kind in columns:
            types.setdefault(name, kind)
    return types


class FakeClickHouse:
    """What ClickHouseSink needs of a clickhouse-connect client. An insert is serialised
    into the Native format exactly as the real client does it, then dropped."""

    def __init__(self) -> None:
        from clickhouse_connect.datatypes.registry import get_from_name
        from clickhouse_connect.driver.transform import NativeTransform

        self._types = {name: get_from_name(t) for name, t in _clickhouse_types().items()}
        self._transform = NativeTransform()
        self.bytes_sent = 0

    def create_insert_context(self, table, column_names, column_oriented):
        from clickhouse_connect.driver.insert import InsertContext

        return InsertContext(
            table, column_names, [self._types[c] for c in column_names], column_oriented=column_oriented
        )

    def query(self, *_args, **_kwargs):
        class _Empty:
            result_rows: list = []

        return _Empty()

    def insert(self, context) -> None:
        self.bytes_sent += sum(len(block) for block in self._transform.build_insert(context))

    def raw_insert(self, table, column_names=None, insert_block=b"", **_kwargs) -> None:
        """The sink encodes its Native blocks itself (NativeEncoder): count what it sends."""
        self.bytes_sent += len(insert_block)

    def close(self) -> None:
        return None


# --------------------------------------------------------------------- the benchmark


_PRODUCED_MS = int(datetime(2025, 5, 19, tzinfo=UTC).timestamp() * 1000)


def kafka_message(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> Message:
    return Message(
        topic=topic, partition=partition, offset=offset, key=key, value=value, headers=None,
        timestamp=(TIMESTAMP_CREATE_TIME, _PRODUCED_MS + offset),
    )  # fmt: skip


def kafka_messages(topic: str, pairs) -> list:
    return [kafka_message(topic, 0, i, key, value) for i, (key, value) in enumerate(pairs)]


def run_once(topic: str, messages: list) -> dict[str, float]:
    spec = get_topic(topic)
    validate = KINDS[spec.kind]
    pg = PostgresSink(FakePostgres(), spec)
    ch = ClickHouseSink(FakeClickHouse(), spec)
    loaded_at = datetime.now(UTC)
    spent = {"decode": 0.0, "postgres": 0.0, "clickhouse": 0.0}
    gc.collect()
    for start in range(0, len(messages), BATCH_SIZE):
        chunk = messages[start : start + BATCH_SIZE]
        t0 = time.process_time()
        batch = Batch(topic, 0)
        batch.extend(chunk, validate, end_offset=None)
        t1 = time.process_time()
        pg.stage(batch, loaded_at, "bench")
        pg.commit()
        t2 = time.process_time()
        ch.write(batch, loaded_at, "bench")
        t3 = time.process_time()
        spent["decode"] += t1 - t0
        spent["postgres"] += t2 - t1
        spent["clickhouse"] += t3 - t2
        assert len(batch.raw) == len(chunk), batch.dead.reasons[:3]
    return {part: seconds / len(messages) * 1e6 for part, seconds in spent.items()}


def load(args: argparse.Namespace) -> None:
    import clickhouse_connect
    import psycopg

    from kafka_elt.ingest.ddl import apply_clickhouse, apply_postgres

    partitions = 3
    workloads = (
        ("web-logs-topic", footprint_messages(args.page_visits, seed=7)),
        ("market_candle", candle_messages(args.candles, seed=7)),
    )
    for topic, pairs in workloads:
        spec = get_topic(topic).with_overrides(raw_schema=args.raw_schema)
        with psycopg.connect(args.postgres) as conn:
            apply_postgres(conn, spec)
        client = clickhouse_connect.get_client(dsn=args.clickhouse)
        apply_clickhouse(client, spec)
        pg, ch = PostgresSink(psycopg.connect(args.postgres), spec), ClickHouseSink(client, spec)
        pending: dict[int, list] = {p: [] for p in range(partitions)}
        next_offset = dict.fromkeys(range(partitions), 0)
        written, started = 0, time.time()
        for i, (key, value) in enumerate(pairs):
            # Candles keyed by code (one partition per code, as Kafka would), visits spread.
            partition = (sum(key) if key else i) % partitions
            pending[partition].append(kafka_message(topic, partition, next_offset[partition], key, value))
            next_offset[partition] += 1
            if len(pending[partition]) == BATCH_SIZE:
                written += _store(pg, ch, topic, partition, pending[partition], KINDS[spec.kind])
        for partition, messages in pending.items():
            if messages:
                written += _store(pg, ch, topic, partition, messages, KINDS[spec.kind])
        pg.close()
        ch.close()
        print(
            f"{topic}: {written:,} messages into {spec.qualified_table} in {time.time() - started:.0f} s",
            flush=True,
        )


def _store(pg: PostgresSink, ch: ClickHouseSink, topic: str, partition: int, messages: list, kind) -> int:
    batch = Batch(topic, partition)
    batch.extend(messages, kind, end_offset=None)
    now = datetime.now(UTC)
    pg.stage(batch, now, "decode_bench")
    ch.write(batch, now, "decode_bench")
    pg.commit()
    n = len(messages)
    messages.clear()
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    cpu = commands.add_parser("cpu", help="per-message CPU (the default)")
    for command in (parser, cpu):
        command.add_argument("--messages", type=int, default=200_000, help="messages per kind")
        command.add_argument("--repeats", type=int, default=5, help="runs per kind; the best counts")
    fill = commands.add_parser("load", help="generated raw tables in both databases")
    fill.add_argument("--raw-schema", required=True, help="PostgreSQL schema / ClickHouse database to fill")
    fill.add_argument("--postgres", required=True, help="psycopg conninfo")
    fill.add_argument(
        "--clickhouse", required=True, help="clickhouse-connect DSN, http://user:password@host:port"
    )
    fill.add_argument("--page-visits", type=int, default=1_000_000)
    fill.add_argument("--candles", type=int, default=500_000)
    args = parser.parse_args(argv)
    if args.command == "load":
        load(args)
        return 0
    import kafka_elt

    print(f"kafka_elt from {Path(kafka_elt.__file__).parent}; {args.messages:,} messages per kind, "
          f"best of {args.repeats}; load average {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    workloads = {
        "market_candle": kafka_messages("market_candle", candle_messages(args.messages, seed=1)),
        "web-logs-topic": kafka_messages("web-logs-topic", footprint_messages(args.messages, seed=1)),
    }
    print(f"{'topic':<16} {'decode':>8} {'postgres':>9} {'clickhouse':>11} {'total':>8}  us/message (median)")
    for topic, messages in workloads.items():
        runs = [run_once(topic, messages) for _ in range(args.repeats)]
        best = min(runs, key=lambda r: sum(r.values()))
        median = statistics.median(sum(r.values()) for r in runs)
        print(f"{topic:<16} {best['decode']:8.2f} {best['postgres']:9.2f} {best['clickhouse']:11.2f} "
              f"{sum(best.values()):8.2f}  ({median:.2f})", flush=True)  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
