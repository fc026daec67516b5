"""PostgreSQL's binary COPY format, written in one pass over a batch's columns.

psycopg's ``Copy.write_row`` costs ~3.5 us per row here (a Python call per row, Python
dumpers for jsonb and for Kafka's epoch-millisecond timestamps), about a fifth of the
whole per-message budget. Encoding the batch directly is ~4x cheaper: the columns that
are the same for every row (topic, partition, load time, DAG run) are encoded once per
batch, and the value goes in as the bytes received from Kafka, with no decode/encode
round trip (it was checked to be valid UTF-8, and binary ``text`` is just UTF-8 bytes).

Everything is encoded column by column: one comprehension per column with its packer
bound once (a function call per field would cost as much again as the rest of the row),
then the columns are zipped into rows and joined in C. That also matters for the
decoded fields of each message (``settings.KIND_COLUMNS``, ``encode_columns``): a tuple
per row would keep the garbage collector busy with a 50,000-message batch alive.

Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
(signature, flags, header extension; per row a field count, then per field a length or
-1 for NULL and the bytes; trailer -1). Binary ``bool`` is one byte, ``int8`` and
``float8`` eight big-endian bytes (IEEE 754 for the float), ``timestamptz`` an int8 of
microseconds since 2000-01-01 UTC.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from operator import sub
from typing import NamedTuple

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)

_INT16 = struct.Struct(">h")
_LEN = struct.Struct(">i")
_LEN_INT4 = struct.Struct(">ii")
_LEN_INT8 = struct.Struct(">iq")
_LEN_FLOAT8 = struct.Struct(">id")
_JSONB_VERSION = b"\x01"
TRUE = struct.pack(">i?", 1, True)
FALSE = struct.pack(">i?", 1, False)

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_MS = 946_684_800_000
_PG_EPOCH_US = _PG_EPOCH_MS * 1000
_MICROSECOND = timedelta(microseconds=1)


def text(value: str | bytes | None) -> bytes:
    """A ``text`` (or ``bytea``) field."""
    if value is None:
        return NULL
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _LEN.pack(len(data)) + data


def int4(value: int) -> bytes:
    return _LEN_INT4.pack(4, value)


def int8(value: int | None) -> bytes:
    return NULL if value is None else _LEN_INT8.pack(8, value)


def float8(value: float | None) -> bytes:
    return NULL if value is None else _LEN_FLOAT8.pack(8, value)


def boolean(value: bool | None) -> bytes:
    return NULL if value is None else TRUE if value else FALSE


def timestamptz(moment: datetime) -> bytes:
    """An aware datetime as ``timestamptz`` (microseconds since 2000-01-01 UTC)."""
    return _LEN_INT8.pack(8, (moment - _PG_EPOCH) // _MICROSECOND)


def timestamptz_micros(unix_micros: int | None) -> bytes:
    """Microseconds since the Unix epoch (UTC) as ``timestamptz``."""
    return NULL if unix_micros is None else _LEN_INT8.pack(8, unix_micros - _PG_EPOCH_US)


# -- whole columns: per row, the field's bytes ----------------------------------------
_SAMPLE = 512  # values looked at to tell a few-valued text column
# A field is a length and the data. For text and bytea the two are separate items
# (``_bytes_column``), so the data goes into the stream as the very object received.


def _bytes_column(values: Sequence[bytes | None]) -> tuple[list[bytes], Sequence[bytes]]:
    pack = _LEN.pack
    if None in values:
        lengths = [NULL if value is None else pack(len(value)) for value in values]
        return lengths, [b"" if value is None else value for value in values]
    # No NULL (the usual case): map in C, a third of the comprehension's cost.
    return list(map(pack, map(len, values))), values  # type: ignore[arg-type, return-value]


def _text_column(values: Sequence[str | None]) -> list[bytes]:
    if len(set(values[:_SAMPLE])) * 8 <= min(len(values), _SAMPLE):
        # Few distinct texts (codes, types, methods): encode each once.
        encoded = {value: text(value) for value in set(values)}
        return [encoded[value] for value in values]
    try:
        data = list(map(str.encode, values))  # type: ignore[arg-type]  # None: TypeError
    except TypeError:
        return [text(value) for value in values]
    return list(map(bytes.__add__, map(_LEN.pack, map(len, data)), data))


def _int8_column(values: Sequence[int | None]) -> list[bytes]:
    pack = _LEN_INT8.pack
    return [NULL if value is None else pack(8, value) for value in values]


def _float8_column(values: Sequence[float | None]) -> list[bytes]:
    pack = _LEN_FLOAT8.pack
    return [NULL if value is None else pack(8, value) for value in values]


def _boolean_column(values: Sequence[bool | None]) -> list[bytes]:
    return [NULL if value is None else TRUE if value else FALSE for value in values]


def _timestamptz_column(unix_micros: Sequence[int | None]) -> list[bytes]:
    pack, epoch = _LEN_INT8.pack, _PG_EPOCH_US
    return [NULL if value is None else pack(8, value - epoch) for value in unix_micros]


def _kafka_timestamp_column(unix_millis: Sequence[int | None]) -> list[bytes]:
    pack, epoch = _LEN_INT8.pack, _PG_EPOCH_MS
    return [NULL if ms is None else pack(8, (ms - epoch) * 1000) for ms in unix_millis]


# PostgreSQL type (as settings.KIND_COLUMNS names it) -> column encoder. Python values:
# str, int, float, bool, and int microseconds since the Unix epoch for timestamptz;
# None is NULL.
COLUMN_ENCODERS: dict[str, Callable[[Sequence], list[bytes]]] = {
    "text": _text_column,
    "bigint": _int8_column,
    "double precision": _float8_column,
    "boolean": _boolean_column,
    "timestamptz": _timestamptz_column,
}
# Fixed-width types that consecutive columns can be packed together for, one struct call
# per row: the struct code, and what turns a value into the number to pack. (Not
# boolean: "?" would pack None as false instead of failing.)
_PACKABLE: dict[str, tuple[str, Callable[[Sequence], Iterable] | None]] = {
    "bigint": ("q", None),
    "double precision": ("d", None),
    "timestamptz": ("q", lambda unix_micros: map(sub, unix_micros, repeat(_PG_EPOCH_US))),
}


class EncodedColumns(NamedTuple):
    """``encode_columns``'s result: how many fields each row gets, and the columns (a run
    of fixed-width fields packed together is one column holding several fields)."""

    fields: int
    columns: list[Sequence[bytes]]


def _packed(types: Sequence[str], columns: Sequence[Sequence]) -> list[bytes]:
    """Consecutive fixed-width columns as one column of their fields packed per row.
    Raises TypeError or struct.error when a value is None (or not a number)."""
    layout = struct.Struct(">" + "".join("i" + _PACKABLE[pg_type][0] for pg_type in types))
    arguments: list[Iterable] = []
    for pg_type, column in zip(types, columns, strict=True):
        convert = _PACKABLE[pg_type][1]
        arguments += [repeat(8), column if convert is None else convert(column)]
    return list(map(layout.pack, *arguments))


def _encode_run(types: list[str], columns: list[Sequence]) -> list[list[bytes]]:
    if len(types) > 1:
        try:
            return [_packed(types, columns)]
        except (TypeError, struct.error):
            pass  # a NULL in the batch: field by field
    return [COLUMN_ENCODERS[pg_type](column) for pg_type, column in zip(types, columns, strict=True)]


def encode_columns(types: Sequence[str], columns: Sequence[Sequence]) -> EncodedColumns:
    """Columns of Python values, typed by ``types``, encoded for ``encode_rows``'s ``extra``.

    Each field is its own item but for consecutive bigint / float8 / timestamptz
    columns with no NULL in the batch, which are packed together: a row's eight fixed
    fields in one struct call cost a fifth of eight calls (and fewer items to join).
    """
    if len(types) != len(columns):
        raise ValueError(f"{len(types)} column types for {len(columns)} columns")
    encoded: list[Sequence[bytes]] = []
    run_types: list[str] = []
    run_columns: list[Sequence] = []
    for pg_type, column in zip(types, columns, strict=True):
        if pg_type in _PACKABLE:
            run_types.append(pg_type)
            run_columns.append(column)
            continue
        encoded += _encode_run(run_types, run_columns)
        run_types, run_columns = [], []
        encoded.append(COLUMN_ENCODERS[pg_type](column))
    encoded += _encode_run(run_types, run_columns)
    return EncodedColumns(len(types), encoded)


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
    extra: EncodedColumns | None = None,
) -> bytes:
    """A complete binary COPY stream: per row the constant fields (already encoded),
    then kafka_offset int8, kafka_key bytea, kafka_value text|bytea,
    kafka_timestamp timestamptz, kafka_headers jsonb, with ``reasons`` a text, then the
    ``extra`` columns' fields (already encoded: ``encode_columns``).

    Column by column, then zipped into rows and joined in C: no Python code runs per
    row, and nothing is allocated per row but the fields themselves.
    """
    n_fields = len(constant_fields) + 5 + (reasons is not None) + (extra.fields if extra else 0)
    head = _INT16.pack(n_fields) + b"".join(constant_fields)
    # Each row starts with the field count, the constants and kafka_offset: one pack.
    row_start = struct.Struct(f">{len(head)}siq")
    columns: list[Iterable[bytes]] = [
        map(row_start.pack, repeat(head), repeat(8), offsets),
        *_bytes_column(keys),
        *_bytes_column(values),
        _kafka_timestamp_column(timestamps_ms),
        [_EMPTY_HEADERS if header == "[]" else jsonb(header) for header in headers],
    ]
    if reasons is not None:
        columns.append([text(reason) for reason in reasons])
    if extra:
        columns.extend(extra.columns)
    return b"".join(chain((SIGNATURE,), chain.from_iterable(zip(*columns, strict=True)), (TRAILER,)))
