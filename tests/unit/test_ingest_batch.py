"""Kafka messages into batch columns: values as received, headers as JSON, poison apart."""

from __future__ import annotations

import base64
import json

from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME, TIMESTAMP_NOT_AVAILABLE, Message

from kafka_elt.ingest.batch import Batch, encode_headers
from kafka_elt.ingest.validators import KINDS

GOOD = b'{"link": "/posts/42?ref=home", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"}'


def message(
    offset: int,
    value: bytes | None,
    *,
    key=None,
    headers=None,
    timestamp=(TIMESTAMP_CREATE_TIME, 1_747_629_930_123),
):
    return Message(topic="web-logs-topic", partition=1, offset=offset, key=key, value=value, headers=headers,
                   timestamp=timestamp)  # fmt: skip


def test_headers_as_json_pairs():
    assert encode_headers(None) == "[]"
    assert encode_headers([]) == "[]"
    encoded = json.loads(
        encode_headers(
            [
                ("trace-id", b"abc-123"),
                ("empty", b""),
                ("null", None),
                ("binary", b"\xff\xfe\x00"),
                ("nul", b"a\x00b"),
                ("unicode", "\u20bf caf\u00e9".encode()),
                ("trace-id", b"second"),  # duplicates are kept, in order
            ]
        )
    )
    assert encoded == [
        ["trace-id", "abc-123"],
        ["empty", ""],
        ["null", None],
        ["binary", "base64:" + base64.b64encode(b"\xff\xfe\x00").decode()],
        ["nul", "base64:" + base64.b64encode(b"a\x00b").decode()],
        ["unicode", "\u20bf caf\u00e9"],
        ["trace-id", "second"],
    ]


def test_batch_splits_valid_and_poison_and_keeps_bytes_as_received():
    batch = Batch("web-logs-topic", 1)
    validate = KINDS["footprint"]
    batch.add(message(10, GOOD, key=b"k1", headers=[("h", b"v")]), validate)
    batch.add(message(11, b"\xff not utf-8", timestamp=(TIMESTAMP_NOT_AVAILABLE, 0)), validate)
    batch.add(
        message(12, GOOD.replace(b".123+09:00", b"Z"), timestamp=(TIMESTAMP_LOG_APPEND_TIME, 5)), validate
    )
    batch.add(message(13, None), validate)
    assert (batch.first_offset, batch.last_offset, batch.next_offset, len(batch)) == (10, 13, 14, 4)

    raw, dead = batch.raw, batch.dead
    assert raw.offsets == [10, 12]
    assert raw.keys == [b"k1", None]
    assert raw.values[0] is not None and raw.values[0] == GOOD
    assert raw.timestamps_ms == [1_747_629_930_123, 5]
    assert raw.headers == ['[["h", "v"]]', "[]"]

    assert dead.offsets == [11, 13]
    assert dead.values == [b"\xff not utf-8", None]
    assert dead.timestamps_ms == [None, 1_747_629_930_123]
    assert dead.reasons[0].startswith("not UTF-8") and "tombstone" in dead.reasons[1]
    assert "offsets 10..13" in batch.describe()


def test_valid_messages_keep_their_decoded_fields_and_columns_follow_them():
    batch = Batch("web-logs-topic", 1)
    kind = KINDS["footprint"]
    batch.add(message(10, GOOD), kind)
    batch.add(message(11, b"not json"), kind)
    batch.add(message(12, GOOD.replace(b'"GET"', b'"post"')), kind)
    assert batch.raw.offsets == [10, 12] and batch.dead.offsets == [11]
    instant = 1_747_629_930_123_000  # 2025-05-19T13:45:30.123+09:00
    assert batch.raw.decoded == [
        ("/posts/42?ref=home", "GET", "2025-05-19T13:45:30.123+09:00", instant),
        ("/posts/42?ref=home", "post", "2025-05-19T13:45:30.123+09:00", instant),
    ]
    columns = batch.raw.decoded_columns(4)
    assert columns == [
        ["/posts/42?ref=home"] * 2,
        ["GET", "post"],
        ["2025-05-19T13:45:30.123+09:00"] * 2,
        [instant] * 2,
    ]
    assert batch.raw.decoded_columns(4) is columns  # once per batch: both sinks use them
    batch.add(message(13, GOOD), kind)
    assert batch.raw.decoded_columns(4)[1] == ["GET", "post", "GET"]  # recomputed after an add


def test_an_empty_batch_has_empty_decoded_columns():
    assert Batch("market_candle", 0).raw.decoded_columns(3) == [[], [], []]
