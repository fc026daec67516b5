"""Both sinks write each raw row's decoded fields under the right column names, and
decoded_at_load = true; dead letters stay as they were. No database: stand-in connections
record what the sinks send."""

from __future__ import annotations

import struct
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

from kafka_elt.ingest.batch import Batch, SinkResult
from kafka_elt.ingest.clickhouse_sink import ClickHouseSink, raw_insert_columns
from kafka_elt.ingest.postgres_sink import PostgresSink, raw_copy_columns
from kafka_elt.ingest.registry import get_topic
from kafka_elt.ingest.validators import KINDS
from kafka_elt.settings import CLICKHOUSE_CLUSTER_ENV, DEAD_LETTER_COLUMNS, DECODED_AT_LOAD, KIND_COLUMNS

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


# The tables' ClickHouse types, as DESCRIBE TABLE would give them to the sink.
_CH_TYPES = {
    "kafka_topic": "LowCardinality(String)",
    "kafka_partition": "Int32",
    "kafka_offset": "Int64",
    "kafka_key": "Nullable(String)",
    "kafka_value": "String",
    "kafka_timestamp": "Nullable(DateTime64(3, 'UTC'))",
    "kafka_headers": "String",
    "error_reason": "String",
    "ingested_at": "DateTime64(6, 'UTC')",
    "dag_run_id": "String",
    DECODED_AT_LOAD: "Bool",
    **{name: ch_type for name, _, ch_type in KIND_COLUMNS["market_candle"]},
}


class RecordingClickHouse:
    def __init__(self, stored: set[int]) -> None:
        self.stored, self.inserts, self.queries, self.insert_settings = stored, [], 0, []

    def create_insert_context(self, table, column_names, column_oriented):
        assert column_oriented
        return SimpleNamespace(column_types=[get_from_name(_CH_TYPES[name]) for name in column_names])

    def query(self, sql, parameters):
        self.queries += 1

        class Result:
            result_rows = [
                (o,) for o in sorted(self.stored) if parameters["first"] <= o <= parameters["last"]
            ]

        return Result()

    def raw_insert(self, table, column_names, insert_block, settings, fmt, compression):
        assert fmt == "Native"
        self.inserts.append((table, column_names, insert_block, compression))
        self.insert_settings.append(settings)


def native_columns(block: bytes) -> dict[str, tuple[str, list]]:
    """A Native-format stream (one or more blocks), read back by clickhouse-connect:
    column -> (the type the block declares, the values)."""
    from clickhouse_connect.driver.transform import NativeTransform
    from clickhouse_connect.driverc.buffer import ResponseBuffer  # what the C column readers take

    source = ResponseBuffer(SimpleNamespace(gen=iter([block]), close=lambda: None))
    result = NativeTransform.parse_response(source)
    types = [t.name for t in result.column_types]
    return {
        name: (ch_type, list(column))
        for name, ch_type, column in zip(result.column_names, types, result.result_columns, strict=True)
    }


@pytest.mark.parametrize(
    ("cluster", "settings"), [(None, None), ("", None), ("elt_cluster", {"insert_quorum": "auto"})]
)
def test_clickhouse_inserts_are_quorum_inserts_on_a_replicated_cluster(monkeypatch, cluster, settings):
    """On a cluster an insert returns once a majority of replicas hold it, so the offsets
    committed after it survive a lost replica; on one server the insert is as before."""
    if cluster is None:
        monkeypatch.delenv(CLICKHOUSE_CLUSTER_ENV, raising=False)
    else:
        monkeypatch.setenv(CLICKHOUSE_CLUSTER_ENV, cluster)
    client = RecordingClickHouse(stored=set())
    ClickHouseSink(client, get_topic("market_candle"), compression=None).write(
        batch_of(CANDLES), LOADED_AT, "r"
    )
    assert len(client.inserts) == 2 and client.insert_settings == [settings, settings]


def test_clickhouse_inserts_the_decoded_columns_and_skips_stored_offsets_in_all_of_them():
    client = RecordingClickHouse(stored={100})  # the first message is already there: a replay
    sink = ClickHouseSink(client, get_topic("market_candle"), compression=None)
    result = sink.write(batch_of(CANDLES), LOADED_AT, "run_1")
    assert (result.written, result.skipped_already_stored, result.dead_letters_written) == (1, 1, 1)
    (raw_table, raw_names, raw_block, _), (dead_table, dead_names, dead_block, _) = client.inserts
    assert raw_table == "raw.market_candle" and list(raw_names) == list(raw_insert_columns("market_candle"))
    columns = native_columns(raw_block)
    assert list(columns) == list(raw_names) and all(len(values) == 1 for _, values in columns.values())
    row = {name: values[0] for name, (_, values) in columns.items()}
    assert row["kafka_offset"] == 102 and row["code"] == "ETH-USD" and row["candle_timestamp"] == 120
    assert (
        row[DECODED_AT_LOAD] is True and row["is_connect_envelope"] is False and row["opening_price"] is None
    )
    assert row["dag_run_id"] == "run_1" and row["kafka_partition"] == 3
    assert row["ingested_at"] == LOADED_AT.replace(tzinfo=None)
    assert row["kafka_value"] == CANDLES[2].decode() and row["kafka_key"] is None
    # LowCardinality columns travel as plain strings, Nullable ones without a NULL in the
    # block as their plain type; the server converts them.
    assert columns["kafka_topic"][0] == "String" and columns["code"][0] == "String"
    assert (
        columns["kafka_key"][0] == "Nullable(String)" and columns["opening_price"][0] == "Nullable(Float64)"
    )
    assert columns["candle_timestamp"][0] == "Int64"
    assert dead_table == "raw.dead_letter" and list(dead_names) == list(DEAD_LETTER_COLUMNS)
    dead = native_columns(dead_block)
    assert dead["kafka_offset"][1] == [101] and dead["error_reason"][1][0].startswith("not valid JSON")


def test_clickhouse_sends_a_batch_added_in_chunks_as_one_insert_per_table():
    client = RecordingClickHouse(stored=set())
    sink = ClickHouseSink(client, get_topic("market_candle"))  # lz4, as in production
    for first_offset in (100, 103, 106):
        sink.add(batch_of(CANDLES, first_offset), LOADED_AT, "run_1")
    # Nothing sent before the flush; one probe per table for the whole batch.
    assert client.inserts == [] and client.queries == 2
    result = sink.flush()
    assert (result.written, result.skipped_already_stored, result.dead_letters_written) == (6, 0, 3)
    (raw_table, _, raw_block, compression), (dead_table, _, _, _) = client.inserts
    assert (raw_table, dead_table, compression) == ("raw.market_candle", "raw.dead_letter", "lz4")
    stream = lz4_frames(raw_block)
    assert native_columns(stream)["kafka_offset"][1] == [100, 102, 103, 105, 106, 108]
    # A flush ends the batch: the next one starts empty.
    assert sink.flush() == SinkResult(0, 0, 0, 0) and len(client.inserts) == 2


def test_clickhouse_discard_drops_the_open_batch():
    client = RecordingClickHouse(stored=set())
    sink = ClickHouseSink(client, get_topic("market_candle"))
    sink.add(batch_of(CANDLES), LOADED_AT, "run_1")
    sink.discard()
    assert sink.flush() == SinkResult(0, 0, 0, 0) and client.inserts == []


def lz4_frames(data: bytes) -> bytes:
    """Concatenated LZ4 frames (one per block), decompressed as the server does."""
    import lz4.frame

    out, rest = b"", data
    while rest:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        out += decompressor.decompress(rest)
        rest = decompressor.unused_data
    return out


def test_postgres_stages_chunks_of_one_batch_and_empties_the_staging_table_after_each():
    conn = RecordingPostgres(stored=True)  # a replay: the idempotent path
    sink = PostgresSink(conn, get_topic("market_candle"))
    sink.stage(batch_of(CANDLES[:1], 100), LOADED_AT, "run_1")
    sink.stage(batch_of(CANDLES[:1], 101), LOADED_AT, "run_1")
    statements = [s.as_string(None) if hasattr(s, "as_string") else s for s in conn.executed]
    inserts = [i for i, s in enumerate(statements) if "on conflict do nothing" in s]
    assert len(inserts) == 2
    for i in inserts:
        assert statements[i + 1] == 'truncate "_kafka_elt_stage_raw"'


def test_clickhouse_probes_again_only_past_its_window_and_per_batch():
    client = RecordingClickHouse(stored={104, 107})
    sink = ClickHouseSink(client, get_topic("market_candle"))
    sink.probe_window = 5  # offsets 100..104 from the first chunk's probe
    sink.add(batch_of(CANDLES[:1] * 3, 100), LOADED_AT, "run_1")  # 100..102
    sink.add(batch_of(CANDLES[:1] * 2, 103), LOADED_AT, "run_1")  # 103..104: inside the window
    assert client.queries == 1
    sink.add(batch_of(CANDLES[:1] * 3, 105), LOADED_AT, "run_1")  # 105..107: past it
    assert client.queries == 2
    result = sink.flush()
    assert (result.written, result.skipped_already_stored) == (6, 2)
    ((_, _, block, _),) = client.inserts
    assert native_columns(lz4_frames(block))["kafka_offset"][1] == [100, 101, 102, 103, 105, 106]
    sink.add(batch_of(CANDLES[:1], 108), LOADED_AT, "run_2")  # the next batch probes afresh
    assert client.queries == 3


def test_postgres_locks_and_probes_once_per_transaction():
    conn = RecordingPostgres()
    sink = PostgresSink(conn, get_topic("market_candle"))
    del conn.executed[:]  # the staging tables' DDL
    for first_offset in (100, 103):
        sink.stage(batch_of(CANDLES, first_offset), LOADED_AT, "run_1")
    statements = [str(s) for s in conn.executed]
    assert sum("pg_advisory_xact_lock" in s for s in statements) == 1
    assert sum("select exists" in s for s in statements) == 1
    sink.commit()
    sink.stage(batch_of(CANDLES, 106), LOADED_AT, "run_1")
    statements = [str(s) for s in conn.executed]
    assert sum("pg_advisory_xact_lock" in s for s in statements) == 2
    assert sum("select exists" in s for s in statements) == 2
