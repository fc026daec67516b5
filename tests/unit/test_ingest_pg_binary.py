"""The binary COPY encoder writes exactly what psycopg itself would for the same rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from psycopg import _copy_base
from psycopg.adapt import Transformer
from psycopg.pq import Format
from psycopg.types.json import Jsonb

from kafka_elt.ingest import pg_binary

TYPES = ["text", "int4", "timestamptz", "text", "int8", "bytea", "text", "timestamptz", "jsonb"]
DEAD_TYPES = [*TYPES[:6], "bytea", "timestamptz", "jsonb", "text"]


def psycopg_stream(rows, types) -> bytes:
    tx = Transformer()
    tx.set_dumper_types([tx.adapters.types[t].oid for t in types], Format.BINARY)
    out = bytearray(_copy_base._binary_signature)
    for row in rows:
        _copy_base.format_row_binary(row, tx, out)
    return bytes(out + _copy_base._binary_trailer)


def millis(ms: int | None) -> datetime | None:
    return None if ms is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


LOADED_AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
OFFSETS = [0, 1, 2, 9_000_000_000]
KEYS = [b"BTC-USD", None, b"\x00\xff", b""]
VALUES = [b'{"code": "BTC-USD"}', '{"caf\u00e9": "\u20bf"}'.encode(), b"{}", b'{"a": "tab\\there"}']
TIMESTAMPS = [1_747_662_330_123, None, 0, 946_684_799_999]  # incl. the Unix epoch and before 2000
HEADERS = ["[]", '[["trace", "abc"], ["bin", "base64:/w=="], ["none", null]]', "[]", '[["k", "\u00e9"]]']


def constants(
    topic: str = "market_candle", partition: int = 2, run_id: str = "manual__2026"
) -> tuple[bytes, ...]:
    return (
        pg_binary.text(topic),
        pg_binary.int4(partition),
        pg_binary.timestamptz(LOADED_AT),
        pg_binary.text(run_id),
    )


def test_raw_rows_match_psycopg():
    ours = pg_binary.encode_rows(constants(), OFFSETS, KEYS, VALUES, TIMESTAMPS, HEADERS)
    theirs = psycopg_stream(
        [
            ("market_candle", 2, LOADED_AT, "manual__2026", o, k, v.decode(), millis(t), Jsonb(json.loads(h)))
            for o, k, v, t, h in zip(OFFSETS, KEYS, VALUES, TIMESTAMPS, HEADERS, strict=True)
        ],
        TYPES,
    )
    # jsonb text may differ in spacing only; compare rows after normalising it through json.
    assert ours.startswith(pg_binary.SIGNATURE) and ours.endswith(pg_binary.TRAILER)
    assert _rows_with_json_normalised(ours) == _rows_with_json_normalised(theirs)


def test_dead_letter_rows_match_psycopg_including_null_values():
    values = [b"\xff\xfe not utf-8", None, b"", b"{"]
    reasons = ["not UTF-8: ...", "null value (tombstone)", "not valid JSON", "not valid JSON: truncated"]
    ours = pg_binary.encode_rows(constants(), OFFSETS, KEYS, values, TIMESTAMPS, HEADERS, reasons)
    theirs = psycopg_stream(
        [
            ("market_candle", 2, LOADED_AT, "manual__2026", o, k, v, millis(t), Jsonb(json.loads(h)), r)
            for o, k, v, t, h, r in zip(OFFSETS, KEYS, values, TIMESTAMPS, HEADERS, reasons, strict=True)
        ],
        DEAD_TYPES,
    )
    assert _rows_with_json_normalised(ours) == _rows_with_json_normalised(theirs)


def test_empty_batch_is_a_valid_stream():
    assert pg_binary.encode_rows(constants(), [], [], [], [], []) == pg_binary.SIGNATURE + pg_binary.TRAILER


def _rows_with_json_normalised(stream: bytes) -> list[list]:
    """Parse a binary COPY stream into fields; jsonb fields decoded to Python objects."""
    import struct

    assert stream.startswith(pg_binary.SIGNATURE)
    pos = len(pg_binary.SIGNATURE)
    rows = []
    while True:
        (count,) = struct.unpack_from(">h", stream, pos)
        pos += 2
        if count == -1:
            assert pos == len(stream)
            return rows
        fields = []
        for _ in range(count):
            (length,) = struct.unpack_from(">i", stream, pos)
            pos += 4
            if length == -1:
                fields.append(None)
                continue
            data = stream[pos : pos + length]
            pos += length
            fields.append(json.loads(data[1:]) if data[:1] == b"\x01" and data[1:2] in (b"[", b"{") else data)
        rows.append(fields)
