"""Kafka messages -> one batch of raw rows and dead-letter rows, held column by column.

Columns rather than row objects: ClickHouse takes them as they are (a columnar insert),
PostgreSQL's COPY zips them into rows, and nothing per message is allocated twice.
Constant columns (topic, partition, load time, DAG run) are not repeated per message;
each sink adds them. A valid message's decoded fields (the validator's tuple, see
``validators.Kind``) are kept as that one tuple per message, and turned into columns
once per batch (``RawColumns.decoded_columns``): one append per message in the hot loop
instead of one per field.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any

from kafka_elt.ingest.errors import KafkaReadError
from kafka_elt.ingest.validators import Kind, Row

# confluent_kafka.TIMESTAMP_NOT_AVAILABLE and KafkaError._PARTITION_EOF, without
# importing confluent_kafka at module level.
_TIMESTAMP_NOT_AVAILABLE = 0
_PARTITION_EOF = -191
_BASE64_PREFIX = "base64:"


def _header_text(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    # NUL is valid UTF-8 but PostgreSQL jsonb refuses "\u0000": base64 it like binary.
    if text is None or "\x00" in text:
        return _BASE64_PREFIX + base64.b64encode(raw).decode("ascii")
    return text


def _size(values: Sequence[bytes | None], start: int) -> int:
    """Bytes in values[start:], None counting as none."""
    return sum(map(len, filter(None, islice(values, start, None))))


def encode_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> str:
    """Kafka headers as a JSON array of [key, value] pairs, in order, duplicates kept.

    A value is its UTF-8 text, null for a null header, or "base64:<...>" when it is not
    UTF-8 text (or holds NUL). No headers is ``[]``.
    """
    if not headers:
        return "[]"
    return json.dumps(
        [[_header_text(key), _header_text(value)] for key, value in headers], ensure_ascii=False
    )


@dataclass
class RawColumns:
    """Valid messages: the raw table's per-message columns."""

    offsets: list[int] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)  # as received: checked to be UTF-8 JSON
    timestamps_ms: list[int | None] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    decoded: list[Row] = field(default_factory=list)  # per message, its kind's decoded fields
    _columns: tuple[int, list[list]] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.offsets)

    def decoded_columns(self, n_fields: int) -> list[list]:
        """The decoded fields as ``n_fields`` columns; both sinks use them, so they are
        transposed once per batch (again only if messages were added since)."""
        if self._columns is None or self._columns[0] != len(self.decoded):
            # Not zip(*decoded): an iterator per message would keep the garbage collector busy.
            rows = self.decoded
            self._columns = (len(rows), [list(map(itemgetter(i), rows)) for i in range(n_fields)])
        return self._columns[1]


@dataclass
class DeadColumns:
    """Poison messages: raw bytes and the reason they could not be loaded."""

    offsets: list[int] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    values: list[bytes | None] = field(default_factory=list)
    timestamps_ms: list[int | None] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.offsets)


@dataclass
class Batch:
    """Consecutive messages of one partition, ready to be written to both databases."""

    topic: str
    partition: int
    raw: RawColumns = field(default_factory=RawColumns)
    dead: DeadColumns = field(default_factory=DeadColumns)
    first_offset: int = -1
    last_offset: int = -1
    nbytes: int = 0  # message values (and keys) as received, in bytes: what a byte cap counts

    def __len__(self) -> int:
        return len(self.raw) + len(self.dead)

    @property
    def next_offset(self) -> int:
        """The offset to commit once this batch is stored: the next one to read."""
        return self.last_offset + 1

    def add(self, message: Any, kind: Kind) -> None:
        """Add one confluent_kafka Message (already checked for ``error()``)."""
        self.extend([message], kind, end_offset=None)

    def extend(self, messages: list, kind: Kind, end_offset: int | None) -> tuple[int, bool, bool]:
        """Add consecutive messages of this partition, as ``consume()`` returned them,
        each validated and decoded by ``kind`` (``validators.KINDS[spec.kind]``).

        Stops before the first message at or past ``end_offset``. Returns (messages
        added, whether an end-of-partition event was seen, whether a message at or past
        ``end_offset`` was seen). A Kafka error other than
        end-of-partition raises KafkaReadError. This is the per-message hot loop of the
        whole ingestion, hence the local names instead of attribute lookups.
        """
        raw, dead, decode = self.raw, self.dead, kind.decode_message
        raw_offsets, raw_keys, raw_values = raw.offsets.append, raw.keys.append, raw.values.append
        raw_timestamps, raw_headers, raw_decoded = (
            raw.timestamps_ms.append,
            raw.headers.append,
            raw.decoded.append,
        )
        n_raw, n_dead = len(raw), len(dead)
        eof = past_end = False
        first = last = -1
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == _PARTITION_EOF:
                    eof = True
                    continue
                self._kafka_error(error, last)
            offset = message.offset()
            if end_offset is not None and offset >= end_offset:
                past_end = True
                break
            value = message.value()
            reason, fields = decode(value)
            ts_type, ts = message.timestamp()
            timestamp = ts if ts_type != _TIMESTAMP_NOT_AVAILABLE and ts >= 0 else None
            headers = message.headers()
            headers_json = encode_headers(headers) if headers else "[]"
            if reason is None:
                raw_offsets(offset)
                raw_keys(message.key())
                raw_values(value)
                raw_timestamps(timestamp)
                raw_headers(headers_json)
                raw_decoded(fields)
            else:
                dead.offsets.append(offset)
                dead.keys.append(message.key())
                dead.values.append(value)
                dead.timestamps_ms.append(timestamp)
                dead.headers.append(headers_json)
                dead.reasons.append(reason)
            if first < 0:
                first = offset
            last = offset
        added = len(raw) - n_raw + len(dead) - n_dead
        if added:
            if self.first_offset < 0:
                self.first_offset = first
            self.last_offset = last
            # Counted per call, not per message: sum(map(len)) runs in C.
            self.nbytes += _size(raw.values, n_raw) + _size(raw.keys, n_raw)
            self.nbytes += _size(dead.values, n_dead) + _size(dead.keys, n_dead)
        return added, eof, past_end

    def _kafka_error(self, error: Any, offset: int) -> None:
        last = offset if offset >= 0 else self.last_offset
        where = f"after offset {last}" if last >= 0 else "at the start of a chunk of a batch"
        raise KafkaReadError(
            f"Kafka reported an error on topic {self.topic!r} partition {self.partition} {where}: "
            f"{error}. Nothing after the last committed batch was committed; re-run the "
            "task once the cause is fixed."
        )

    def describe(self) -> str:
        return (
            f"topic {self.topic!r} partition {self.partition} offsets {self.first_offset}..{self.last_offset}"
        )


@dataclass(frozen=True)
class SinkResult:
    """What writing one batch into one database did, message by message.

    ``written``: valid messages newly written into the raw table; ``skipped_already_stored``:
    valid messages the raw table already held (a re-read batch). The same two for the
    poison messages and the dead-letter table.
    """

    written: int
    skipped_already_stored: int
    dead_letters_written: int
    dead_letters_skipped: int

    def __add__(self, other: SinkResult) -> SinkResult:
        """Two chunks of one batch, written one after the other."""
        return SinkResult(
            self.written + other.written,
            self.skipped_already_stored + other.skipped_already_stored,
            self.dead_letters_written + other.dead_letters_written,
            self.dead_letters_skipped + other.dead_letters_skipped,
        )

    @classmethod
    def of(cls, batch: Batch, written: int, dead_letters_written: int) -> SinkResult:
        """The result of a write that newly stored ``written`` of the batch's valid messages
        and ``dead_letters_written`` of its poison ones; the rest were already there."""
        return cls(
            written, len(batch.raw) - written, dead_letters_written, len(batch.dead) - dead_letters_written
        )
