"""PostgreSQL's binary COPY format, written in one pass over a batch's columns.

psycopg's ``Copy.write_row`` costs ~3.5 us per row here (a Python call per row, Python
dumpers for jsonb and for Kafka's epoch-millisecond timestamps), about a fifth of the
whole per-message budget. Encoding the batch directly is ~4x cheaper: the columns that
are the same for every row (topic, partition, load time, DAG run) are encoded once per
batch, and the value goes in as the bytes received from Kafka, with no decode/encode
round trip (it was checked to be valid UTF-8, and binary ``text`` is just UTF-8 bytes).

Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
(signature, flags, header extension; per row a field count, then per field a length or
-1 for NULL and the bytes; trailer -1).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)

_INT16 = struct.Struct(">h")
_LEN = struct.Struct(">i")
_LEN_INT4 = struct.Struct(">ii")
_LEN_INT8 = struct.Struct(">iq")
_JSONB_VERSION = b"\x01"

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_MS = 946_684_800_000
_MICROSECOND = timedelta(microseconds=1)


def text(value: str | bytes | None) -> bytes:
    """A ``text`` (or ``bytea``) field."""
    if value is None:
        return NULL
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _LEN.pack(len(data)) + data


def int4(value: int) -> bytes:
    return _LEN_INT4.pack(4, value)


def int8(value: int) -> bytes:
    return _LEN_INT8.pack(8, value)


def timestamptz(moment: datetime) -> bytes:
    """An aware datetime as ``timestamptz`` (microseconds since 2000-01-01 UTC)."""
    return _LEN_INT8.pack(8, (moment - _PG_EPOCH) // _MICROSECOND)


def jsonb(json_text: str) -> bytes:
    data = json_text.encode("utf-8")
    return _LEN.pack(len(data) + 1) + _JSONB_VERSION + data


_EMPTY_HEADERS = jsonb("[]")


def encode_rows(
    constant_fields: Sequence[bytes],
    offsets: Sequence[int],
    keys: Sequence[bytes | None],
    values: Sequence[bytes | None],
    timestamps_ms: Sequence[int | None],
    headers: Sequence[str],
    reasons: Sequence[str] | None = None,
) -> bytes:
    """A complete binary COPY stream: per row the constant fields (already encoded),
    then kafka_offset int8, kafka_key bytea, kafka_value text|bytea,
    kafka_timestamp timestamptz, kafka_headers jsonb and, with ``reasons``, a text.
    """
    n_fields = len(constant_fields) + 5 + (reasons is not None)
    head = _INT16.pack(n_fields) + b"".join(constant_fields)
    pack_len, pack_int8 = _LEN.pack, _LEN_INT8.pack
    parts = [SIGNATURE]
    append = parts.append
    for i, offset in enumerate(offsets):
        key, value, ts, header = keys[i], values[i], timestamps_ms[i], headers[i]
        append(head)
        append(pack_int8(8, offset))
        if key is None:
            append(NULL)
        else:
            append(pack_len(len(key)))
            append(key)
        if value is None:
            append(NULL)
        else:
            append(pack_len(len(value)))
            append(value)
        append(NULL if ts is None else pack_int8(8, (ts - _PG_EPOCH_MS) * 1000))
        append(_EMPTY_HEADERS if header == "[]" else jsonb(header))
        if reasons is not None:
            append(text(reasons[i]))
    append(TRAILER)
    return b"".join(parts)
