"""The binary COPY encoder writes exactly what psycopg itself would for the same rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
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


# -- the decoded fields: typed, nullable columns after the message's own --------------

DECODED_TYPES = [
    "boolean",
    "text",
    "text",
    "bigint",
    "double precision",
    "double precision",
    "timestamptz",
    "text",
]
# Per column, as the validators decode them; timestamptz as Unix microseconds.
DECODED = [
    [True, False, True, False],
    ["candle", None, "CANDLE.1m", "caf\u00e9"],
    ["BTC-USD", "BTC-USD", "\u20bf", ""],
    [1_617_090_000, 0, -1, 10_413_791_999],
    [45000.0, 0.30000000000000004, 5e-324, -0.0],
    [1.7976931348623157e308, 1e-05, 3.0, 123456789012345680.0],
    [1_747_629_930_123_456, 0, -62_135_596_800_000_000, 946_684_799_999_999],  # incl. year 1 and before 2000
    ["realtime", "realtime", "snapshot", "realtime"],
]


def micros(us: int | None) -> datetime | None:
    return None if us is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def psycopg_raw_rows(decoded: list[list]) -> bytes:
    return psycopg_stream(
        [
            ("market_candle", 2, LOADED_AT, "manual__2026", True, o, k, v.decode(), millis(t), Jsonb(json.loads(h)),
             *(micros(f) if pg_type == "timestamptz" else f for pg_type, f in zip(DECODED_TYPES, fields, strict=True)))
            for o, k, v, t, h, *fields in zip(OFFSETS, KEYS, VALUES, TIMESTAMPS, HEADERS, *decoded, strict=True)
        ],
        [*TYPES[:4], "bool", *TYPES[4:], *("bool" if t == "boolean" else "float8" if t == "double precision"
                                           else "int8" if t == "bigint" else t for t in DECODED_TYPES)],
    )  # fmt: skip


def encode_with_decoded(decoded: list[list]) -> bytes:
    return pg_binary.encode_rows(
        (*constants(), pg_binary.TRUE),
        OFFSETS,
        KEYS,
        VALUES,
        TIMESTAMPS,
        HEADERS,
        extra=pg_binary.encode_columns(DECODED_TYPES, decoded),
    )


def test_raw_rows_with_decoded_fields_match_psycopg():
    # No NULL in the fixed-width columns: bigint, float8 and timestamptz are packed together.
    assert _rows_with_json_normalised(encode_with_decoded(DECODED)) == _rows_with_json_normalised(
        psycopg_raw_rows(DECODED)
    )


def test_nulls_in_any_decoded_column_match_psycopg():
    for column in range(len(DECODED)):
        for row in range(len(OFFSETS)):
            decoded = [list(values) for values in DECODED]
            decoded[column][row] = None
            assert _rows_with_json_normalised(encode_with_decoded(decoded)) == _rows_with_json_normalised(
                psycopg_raw_rows(decoded)
            ), (column, row)


def test_packed_fixed_width_fields_are_the_same_bytes_as_one_by_one():
    types = ["bigint", "double precision", "double precision", "timestamptz"]
    columns = [[1, -2], [0.5, 1e300], [-0.0, 2.0], [0, 1_747_629_930_123_456]]
    packed = pg_binary.encode_columns(types, columns)
    assert packed.fields == 4 and len(packed.columns) == 1
    one_by_one = [pg_binary.COLUMN_ENCODERS[t](c) for t, c in zip(types, columns, strict=True)]
    assert packed.columns[0] == [b"".join(fields) for fields in zip(*one_by_one, strict=True)]


def test_scalar_encoders():
    assert pg_binary.float8(None) == pg_binary.boolean(None) == pg_binary.int8(None) == pg_binary.NULL
    assert pg_binary.timestamptz_micros(None) == pg_binary.NULL
    assert pg_binary.float8(1.0) == b"\x00\x00\x00\x08" + b"\x3f\xf0" + b"\x00" * 6
    assert pg_binary.boolean(True) == pg_binary.TRUE == b"\x00\x00\x00\x01\x01"
    assert pg_binary.boolean(False) == b"\x00\x00\x00\x01\x00"
    assert pg_binary.timestamptz_micros(946_684_800_000_000) == pg_binary.int8(
        0
    )  # 2000-01-01, PostgreSQL's epoch
    assert pg_binary.timestamptz_micros(1_747_629_930_123_456) == pg_binary.timestamptz(
        micros(1_747_629_930_123_456)
    )


def test_text_columns_with_few_or_many_values_encode_alike():
    many = [f"/posts/{i}" for i in range(2000)] + [None, "caf\u00e9"]
    few = ["GET", "POST", None] * 700
    for values in (many, few):
        assert pg_binary.COLUMN_ENCODERS["text"](values) == [pg_binary.text(v) for v in values]


def test_encode_columns_wants_a_type_per_column():
    with pytest.raises(ValueError, match="2 column types for 1 columns"):
        pg_binary.encode_columns(["text", "text"], [["a"]])
