"""Both sinks write each raw row's decoded fields under the right column names, and
decoded_at_load = true; dead letters stay as they were. No database: stand-in connections
record what the sinks send."""

from __future__ import annotations

import struct
from contextlib import contextmanager
from datetime import UTC, datetime

from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

from kafka_elt.ingest.batch import Batch
from kafka_elt.ingest.clickhouse_sink import ClickHouseSink, raw_insert_columns
from kafka_elt.ingest.postgres_sink import PostgresSink, raw_copy_columns
from kafka_elt.ingest.registry import get_topic
from kafka_elt.ingest.validators import KINDS
from kafka_elt.settings import DEAD_LETTER_COLUMNS, DECODED_AT_LOAD

LOADED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CANDLES = [
    b'{"schema": {}, "payload": {"code": "BTC-USD", "timestamp": 60, "type": "candle", "opening_price": 1.5,'
    b' "high_price": 2.0, "low_price": 1.0, "trade_price": 1.75, "stream_type": "REALTIME"}}',
    b"not json",
    b'{"code": "ETH-USD", "timestamp": 120}',
]


def batch_of(values: list[bytes], first_offset: int = 100) -> Batch:
    batch = Batch("market_candle", 3)
    messages = [
        Message(
            topic="market_candle", partition=3, offset=first_offset + i, key=None, value=value,
            timestamp=(TIMESTAMP_CREATE_TIME, 1_000 + i),
        )
        for i, value in enumerate(values)
    ]  # fmt: skip
    batch.extend(messages, KINDS["market_candle"], end_offset=None)
    return batch


# --------------------------------------------------------------------------- PostgreSQL


class RecordingPostgres:
    def __init__(self, stored: bool = False) -> None:
        self.stored, self.copies, self.executed = stored, [], []

    def cursor(self):
        conn = self

        class Cursor:
            rowcount = 0

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return None

            def execute(self, statement, params=None):
                conn.executed.append(statement)

            def fetchone(self):
                return (conn.stored,)

            @contextmanager
            def copy(self, statement):
                chunks: list[bytes] = []

                class Copy:
                    write = chunks.append

                yield Copy()
                conn.copies.append((statement, b"".join(chunks)))

        return Cursor()

    def commit(self):
        return None


def copy_fields(stream: bytes) -> list[list[bytes | None]]:
    """Rows of a binary COPY stream, as each field's raw bytes (None for NULL)."""
    pos, rows = 19, []
    while (count := struct.unpack_from(">h", stream, pos)[0]) != -1:
        pos += 2
        row: list[bytes | None] = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", stream, pos)
            pos += 4
            row.append(None if length == -1 else stream[pos : pos + length])
            pos += max(length, 0)
        rows.append(row)
    return rows


def test_postgres_copies_the_decoded_fields_under_their_names():
    conn = RecordingPostgres()
    sink = PostgresSink(conn, get_topic("market_candle"))
    result = sink.stage(batch_of(CANDLES), LOADED_AT, "run_1")
    assert result.written == 2  # the first-load path: COPY straight into the raw table
    (raw_statement, raw_stream), (dead_statement, _) = conn.copies
    names = raw_copy_columns("market_candle")
    assert raw_statement.as_string(None).endswith(
        f"({', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)}) from stdin (format binary)"
    )
    rows = [dict(zip(names, fields, strict=True)) for fields in copy_fields(raw_stream)]
    assert [r[DECODED_AT_LOAD] for r in rows] == [b"\x01", b"\x01"]
    assert [r["code"] for r in rows] == [b"BTC-USD", b"ETH-USD"]
    assert [r["is_connect_envelope"] for r in rows] == [b"\x01", b"\x00"]
    assert [r["stream_type"] for r in rows] == [b"REALTIME", None]
    assert rows[0]["trade_price"] == struct.pack(">d", 1.75) and rows[1]["trade_price"] is None
    assert [struct.unpack(">q", r["candle_timestamp"])[0] for r in rows] == [60, 120]
    assert [struct.unpack(">q", r["kafka_offset"])[0] for r in rows] == [100, 102]
    assert "error_reason" in dead_statement.as_string(
        None
    ) and DECODED_AT_LOAD not in dead_statement.as_string(None)


def test_postgres_replay_path_inserts_the_decoded_columns_too():
    conn = RecordingPostgres(stored=True)
    PostgresSink(conn, get_topic("market_candle")).stage(batch_of(CANDLES[:1]), LOADED_AT, "run_1")
    (insert,) = [s.as_string(None) for s in conn.executed if "on conflict do nothing" in str(s)]
    assert f'"{DECODED_AT_LOAD}"' in insert and '"candle_acc_trade_price"' in insert


# --------------------------------------------------------------------------- ClickHouse


class RecordingClickHouse:
    def __init__(self, stored: set[int]) -> None:
        self.stored, self.inserts = stored, []

    def create_insert_context(self, table, column_names, column_oriented):
        assert column_oriented

        class Context:
            pass

        ctx = Context()
        ctx.table, ctx.column_names = table, column_names
        return ctx

    def query(self, sql, parameters):
        class Result:
            result_rows = [
                (o,) for o in sorted(self.stored) if parameters["first"] <= o <= parameters["last"]
            ]

        return Result()

    def insert(self, context):
        self.inserts.append((context.table, context.column_names, context.data))


def test_clickhouse_inserts_the_decoded_columns_and_skips_stored_offsets_in_all_of_them():
    client = RecordingClickHouse(stored={100})  # the first message is already there: a replay
    result = ClickHouseSink(client, get_topic("market_candle")).write(batch_of(CANDLES), LOADED_AT, "run_1")
    assert (result.written, result.skipped_already_stored, result.dead_letters_written) == (1, 1, 1)
    (raw_table, raw_names, raw_data), (dead_table, dead_names, _) = client.inserts
    assert raw_table == "raw.market_candle" and list(raw_names) == list(raw_insert_columns("market_candle"))
    assert len(raw_data) == len(raw_names) and all(len(column) == 1 for column in raw_data)
    row = {name: column[0] for name, column in zip(raw_names, raw_data, strict=True)}
    assert row["kafka_offset"] == 102 and row["code"] == "ETH-USD" and row["candle_timestamp"] == 120
    assert (
        row[DECODED_AT_LOAD] is True and row["is_connect_envelope"] is False and row["opening_price"] is None
    )
    assert row["dag_run_id"] == "run_1" and row["kafka_partition"] == 3
    assert dead_table == "raw.dead_letter" and list(dead_names) == list(DEAD_LETTER_COLUMNS)
