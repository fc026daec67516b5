"""Message validation: what loads into the raw tables and what is dead-lettered, and why."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kafka_elt.ingest.validators import (
    KINDS,
    decode_candle,
    decode_candle_message,
    decode_footprint,
    decode_footprint_message,
    decode_value,
    footprint_time_micros,
    parse_footprint_time,
    poison_reason,
    validate_candle,
    validate_footprint,
)
from kafka_elt.producers.malformed import candle_poison, footprint_poison
from kafka_elt.producers.sample import candle_messages, footprint_messages

# The exact examples of the issue.
ENVELOPE = (
    '{"schema": {"type": "struct", "name": "market_candle", "optional": false, "fields": ['
    '{"field": "type", "type": "string"}, {"field": "code", "type": "string"}, '
    '{"field": "opening_price", "type": "double"}, {"field": "timestamp", "type": "int64"}, '
    '{"field": "stream_type", "type": "string"}]}, "payload": {"type": "candle", "code": "BTC-USD", '
    '"opening_price": 45000.0, "high_price": 46000.0, "low_price": 44000.0, "trade_price": 45500.0, '
    '"candle_acc_trade_volume": 1234.5, "candle_acc_trade_price": 56000000.0, "timestamp": 1617090000, '
    '"stream_type": "realtime"}}'
)
PAYLOAD = json.loads(ENVELOPE)["payload"]
FOOTPRINT = (
    '{"link": "/posts/42?ref=home", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"}'
)


def candle(**changes) -> dict:
    payload = dict(PAYLOAD)
    for key, value in changes.items():
        if value is ...:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


def as_envelope(payload) -> str:
    return json.dumps({"schema": {"type": "struct"}, "payload": payload})


def test_issue_examples_are_valid():
    assert validate_candle(ENVELOPE) is None
    assert validate_candle(json.dumps(PAYLOAD)) is None  # schemaless: the payload alone
    assert validate_footprint(FOOTPRINT) is None


def test_candle_optional_fields_may_be_missing_or_null_and_ints_count_as_doubles():
    assert validate_candle(json.dumps({"code": "ETH-USD", "timestamp": 1617090060})) is None
    assert validate_candle(as_envelope(candle(candle_acc_trade_volume=None, stream_type=None))) is None
    unpriced = candle(opening_price=None, high_price=None, low_price=None, trade_price=None)
    assert validate_candle(as_envelope(unpriced)) is None
    assert validate_candle(as_envelope(candle(opening_price=45000))) is None
    assert validate_candle(as_envelope(candle(extra_field={"nested": [1, 2]}))) is None
    assert validate_candle(json.dumps({"schema": None, "payload": PAYLOAD})) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (as_envelope(candle(code=...)), "missing required field `code` - at `$.payload`"),
        (as_envelope(candle(timestamp=...)), "missing required field `timestamp` - at `$.payload`"),
        (json.dumps(candle(code=...)), "candle (bare payload): Object missing required field `code`"),
        (as_envelope(candle(timestamp="1617090000")), "Expected `int`, got `str` - at `$.payload.timestamp`"),
        (
            as_envelope(candle(timestamp=1617090000.5)),
            "Expected `int`, got `float` - at `$.payload.timestamp`",
        ),
        (as_envelope(candle(timestamp=True)), "Expected `int`, got `bool`"),
        (as_envelope(candle(timestamp=1617090000000)), "<= 10413791999 - at `$.payload.timestamp`"),
        (as_envelope(candle(timestamp=-1)), ">= 0"),
        (
            as_envelope(candle(trade_price="45500")),
            "Expected `float | null`, got `str` - at `$.payload.trade_price`",
        ),
        (as_envelope(candle(code="")), "length >= 1 - at `$.payload.code`"),
        (as_envelope(candle(code=42)), "Expected `str`, got `int` - at `$.payload.code`"),
        (as_envelope(None), "Expected `object`, got `null` - at `$.payload`"),
        (as_envelope([PAYLOAD]), "Expected `object`, got `array` - at `$.payload`"),
        ('{"payload": {"code": "BTC-USD", "timestamp": 1}}', "bare payload"),  # no schema: not an envelope
        (ENVELOPE.replace("45500.0", "NaN"), "not valid JSON"),
        (ENVELOPE[:-5], "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('"just a string"', "not a JSON object"),
        ("", "not valid JSON"),
    ],
)
def test_candle_poison_reasons(text, reason):
    problem = validate_candle(text)
    assert problem is not None, text
    assert reason in problem


@pytest.mark.parametrize(
    "text",
    [
        "2025-05-19T13:45:30.123+09:00",
        "2025-05-19T13:45:30+09:00",  # no fraction: what crashed the old consumer
        "2025-05-19T13:45:30Z",
        "2025-05-19T04:45:30.123456Z",
        "2025-05-19T04:45:30.123456789Z",  # nanoseconds: truncated to microseconds
        "2025-05-19T13:45:30.1-03:30",
        "2025-05-19T13:45:30.12+05:45",
    ],
)
def test_footprint_times_accepted(text):
    parsed = parse_footprint_time(text)
    assert parsed.tzinfo is not None
    assert validate_footprint(json.dumps({"link": "/", "method": "GET", "footprint_time": text})) is None


def test_footprint_time_values():
    assert parse_footprint_time("2025-05-19T13:45:30.123+09:00") == datetime(
        2025, 5, 19, 4, 45, 30, 123000, UTC
    )
    assert parse_footprint_time("2025-05-19T13:45:30Z") == datetime(2025, 5, 19, 13, 45, 30, tzinfo=UTC)
    assert parse_footprint_time("2025-05-19T04:45:30.123456789Z").microsecond == 123456
    minus = parse_footprint_time("2025-05-19T13:45:30-03:30")
    assert minus.utcoffset() == timedelta(hours=-3, minutes=-30)
    assert minus == datetime(2025, 5, 19, 13, 45, 30, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2025-05-19T13:45:30", "not ISO 8601 with an offset"),  # no offset: ambiguous
        ("2025-05-19 13:45:30Z", "not ISO 8601 with an offset"),
        ("2025-05-19T13:45:30+0900", "not ISO 8601 with an offset"),
        ("2025-05-19", "not ISO 8601 with an offset"),
        ("2025-05-19T13:45:30.1234567890Z", "not ISO 8601 with an offset"),  # >9 digits
        ("2025-13-19T13:45:30Z", "not a valid date and time"),
        ("2025-02-30T13:45:30Z", "not a valid date and time"),
        ("2025-05-19T24:00:00Z", "not a valid date and time"),
        ("2025-05-19T13:45:30+24:00", "not ISO 8601 with an offset"),
        ("yesterday", "not ISO 8601 with an offset"),
    ],
)
def test_footprint_times_rejected(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_footprint_time(text)
    problem = validate_footprint(json.dumps({"link": "/", "method": "GET", "footprint_time": text}))
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"method": "GET", "footprint_time": "2025-05-19T13:45:30Z"}, "missing required field `link`"),
        ({"link": "/", "footprint_time": "2025-05-19T13:45:30Z"}, "missing required field `method`"),
        ({"link": "/", "method": "GET"}, "missing required field `footprint_time`"),
        ({"link": "/", "method": "GET", "footprint_time": 1747662330}, "Expected `str`, got `int`"),
        (
            {"link": "", "method": "GET", "footprint_time": "2025-05-19T13:45:30Z"},
            "length >= 1 - at `$.link`",
        ),
        ({"link": "/", "method": "G E T", "footprint_time": "2025-05-19T13:45:30Z"}, "at `$.method`"),
        (
            {"link": ["/"], "method": "GET", "footprint_time": "2025-05-19T13:45:30Z"},
            "Expected `str`, got `array`",
        ),
    ],
)
def test_footprint_poison_reasons(event, reason):
    problem = validate_footprint(json.dumps(event))
    assert problem is not None and reason in problem


def test_poison_reason_checks_bytes_before_the_kind():
    validate = KINDS["market_candle"]
    assert poison_reason(ENVELOPE.encode(), validate) is None
    assert "tombstone" in poison_reason(None, validate)
    assert poison_reason(b"\xff" + ENVELOPE.encode()[1:], validate).startswith("not UTF-8")
    assert "Latin-1" not in (reason := poison_reason('{"code": "caf\xe9"}'.encode("latin-1"), validate))
    assert reason.startswith("not UTF-8")
    assert "NUL" in poison_reason(b'{"code": "a\x00b", "timestamp": 1}', validate)
    assert "\\u0000" in poison_reason(b'{"code": "a\\u0000b", "timestamp": 1}', validate)
    # An escaped backslash followed by "u0000" is plain text, not a NUL escape.
    assert poison_reason(b'{"code": "a\\\\u0000b", "timestamp": 1}', validate) is None
    assert poison_reason('{"code": "\u20bf-USD", "timestamp": 1}'.encode(), validate) is None
    assert poison_reason(b"\xef\xbb\xbf" + ENVELOPE.encode(), validate).startswith("not valid JSON")  # BOM


def test_candle_enum_spellings_of_real_feeds_are_valid():
    """The contract: type and stream_type are free text at ingestion (dbt normalises the
    case and warns on values it does not know), so an exchange's spelling never becomes
    a dead letter nor an outage."""
    assert validate_candle(as_envelope(candle(type="candle.1m", stream_type="REALTIME"))) is None
    assert (
        validate_footprint(
            json.dumps({"link": "/a", "method": "PROPFIND", "footprint_time": "2026-01-01T00:00:00Z"})
        )
        is None
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"high_price": None}, "prices incomplete: high_price missing while the others are set"),
        ({"low_price": None, "trade_price": None}, "prices incomplete: low_price, trade_price missing"),
        ({"high_price": 44_000.0}, "prices are not a bar"),
        ({"low_price": 45_200.0}, "prices are not a bar"),  # above the open
        ({"trade_price": 46_500.0}, "prices are not a bar"),  # close above the high
    ],
)
def test_candle_prices_that_make_no_sense_are_dead_lettered_with_the_reason(changes, reason):
    for text, where in (
        (as_envelope(candle(**changes)), "Connect envelope"),
        (json.dumps(candle(**changes)), "bare payload"),
    ):
        problem = validate_candle(text)
        assert problem is not None and reason in problem and where in problem, problem


def test_candle_bar_edges_are_valid():
    flat = candle(opening_price=1.0, high_price=1.0, low_price=1.0, trade_price=1.0)
    assert validate_candle(as_envelope(flat)) is None


# -- decoding: the fields stored in the raw tables' typed columns ----------------------


def test_decode_candle_returns_the_fields_as_parsed():
    assert decode_candle(ENVELOPE) == (
        None,
        (
            True,
            "candle",
            "BTC-USD",
            1617090000,
            45000.0,
            46000.0,
            44000.0,
            45500.0,
            1234.5,
            56000000.0,
            "realtime",
        ),
    )
    bare = json.dumps(
        candle(
            opening_price=0.1,
            high_price=0.30000000000000004,
            low_price=1e-05,
            trade_price=0.2,
            type="CANDLE.1m",
        )
    )
    reason, fields = decode_candle(bare)
    assert reason is None and fields
    assert fields[:2] == (False, "CANDLE.1m")  # as sent: dbt lower-cases it
    assert fields[4:7] == (0.1, 0.30000000000000004, 1e-05)  # exactly the doubles the text denotes
    assert decode_candle('{"code": "X", "timestamp": 1, "opening_price": 3}') == (
        "candle (bare payload): prices incomplete: high_price, low_price, trade_price missing while the "
        "others are set (all four or none)",
        (),
    )
    unpriced = decode_candle(
        '{"schema": null, "payload": {"code": "X", "timestamp": 1, "stream_type": null}}'
    )
    assert unpriced == (None, (True, None, "X", 1, None, None, None, None, None, None, None))


def test_decoders_refuse_exactly_what_the_validators_refuse():
    for text in [ENVELOPE, as_envelope(candle(code=...)), "[1]", "", json.dumps(candle(high_price=1.0))]:
        reason, fields = decode_candle(text)
        assert reason == validate_candle(text) == KINDS["market_candle"](text)
        assert (fields == ()) == (reason is not None)
    for time_text in ["2025-05-19T13:45:30Z", "2025-05-19T13:45:30", "2025-02-30T13:45:30Z"]:
        text = json.dumps({"link": "/", "method": "GET", "footprint_time": time_text})
        reason, fields = decode_footprint(text)
        assert reason == validate_footprint(text) == KINDS["footprint"](text)
        assert (fields == ()) == (reason is not None)


def test_decode_footprint_returns_the_instant_in_unix_microseconds():
    assert decode_footprint(FOOTPRINT) == (
        None,
        ("/posts/42?ref=home", "GET", "2025-05-19T13:45:30.123+09:00", 1_747_629_930_123_000),
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "date", ["0001-01-01", "1899-12-31", "1970-01-01", "2000-02-29", "2025-05-19", "9999-12-31"]
)
@pytest.mark.parametrize("fraction", ["", ".5", ".123", ".123456", ".1234567", ".999999999"])
@pytest.mark.parametrize(
    "offset", ["Z", "+00:00", "-00:00", "+05:45", "-03:30", "+14:00", "+15:59", "+16:00", "-23:59"]
)
def test_footprint_time_micros_is_the_parsed_instant(date, fraction, offset):
    """The decoder's integer path agrees with parse_footprint_time on every form the
    validator accepts (offsets beyond PostgreSQL's +-15:59 included: they are valid
    RFC 3339, and the typed column holds the right instant)."""
    for clock in ("00:00:00", "23:59:59"):
        text = f"{date}T{clock}{fraction}{offset}"
        assert footprint_time_micros(text) == (parse_footprint_time(text) - _EPOCH) // timedelta(
            microseconds=1
        )


def test_footprint_time_micros_refuses_like_parse_footprint_time():
    for text in ["2025-05-19T13:45:30", "2025-02-30T13:45:30Z", "2025-05-19T24:00:00Z", "yesterday"]:
        with pytest.raises(ValueError) as expected:
            parse_footprint_time(text)
        with pytest.raises(ValueError) as got:
            footprint_time_micros(text)
        assert str(got.value) == str(expected.value)


def test_decode_value_checks_bytes_then_decodes():
    kind = KINDS["footprint"]
    assert decode_value(FOOTPRINT.encode(), kind.decode) == decode_footprint(FOOTPRINT)
    assert decode_value(None, kind.decode) == ("null value (tombstone): nothing to load", ())
    reason, fields = decode_value(b"\xff", kind.decode)
    assert reason is not None and reason.startswith("not UTF-8") and fields == ()
    assert decode_value(b'{"link": "a\\u0000"}', kind.decode)[0] == poison_reason(
        b'{"link": "a\\u0000"}', kind
    )


# -- the drain's fast path agrees with the full way, message by message -------------------

_CANDLE_EDGES = [
    ENVELOPE,
    json.dumps(PAYLOAD),
    as_envelope(candle(code="")),  # empty code
    as_envelope(candle(timestamp=10**12)),  # milliseconds
    as_envelope(candle(high_price=1.0)),  # not a bar
    json.dumps({**PAYLOAD, "payload": {"foo": 1}}),  # bare, with an extra "payload" key
    json.dumps({**PAYLOAD, "payload": 5}),
    json.dumps({**PAYLOAD, "schema": 5}),  # "schema" alone: still bare
    json.dumps({"schema": {}, "payload": PAYLOAD, "code": 5}),  # envelope: top-level fields ignored
    json.dumps({"schema": {}, "payload": PAYLOAD, "type": [1]}),
    json.dumps({"schema": {}, "payload": None}),
    json.dumps({"payload": PAYLOAD}),  # no schema: a bare payload without code
    json.dumps({"code": "X", "timestamp": 1}),
    json.dumps({"code": "X", "timestamp": 1, "opening_price": 3}),  # prices incomplete
    json.dumps({"code": "X"}),
    json.dumps({"timestamp": 1}),
    '{"code": "X", "timestamp": 1, "code": "Y"}',  # a duplicate key: the last wins either way
    '{"code": "X\\u0000", "timestamp": 1}',
    '{"code": "X\\\\u0000", "timestamp": 1}',  # an escaped backslash, then u0000: fine
    '{"code": "caf\u00e9", "timestamp": 1}',  # non-ASCII: the full way
    '\ufeff{"code": "X", "timestamp": 1}',  # BOM
    '{"code": "X", "timestamp": 1, "opening_price": NaN}',
    "[1]",
    "",
    "null",
    ' {"code": "X", "timestamp": 1} ',
]


def test_candle_fast_path_matches_the_full_way():
    values: list[bytes | None] = [text.encode() for text in _CANDLE_EDGES]
    values += [value for _, value in candle_messages(2000, schemaless_share=0.5, seed=3)]
    rng = random.Random(5)
    values += [candle_poison(rng)[0] for _ in range(200)]
    values += [None, b"\xff", b'{"code": "X", "timestamp": 1}\x00']
    loaded = 0
    for value in values:
        expected = decode_value(value, decode_candle)
        assert decode_candle_message(value) == expected, value
        loaded += expected[0] is None
    assert 0 < loaded < len(values)  # both paths exercised


def test_footprint_fast_path_matches_the_full_way():
    values: list[bytes | None] = [value for _, value in footprint_messages(500, seed=3)]
    rng = random.Random(5)
    values += [footprint_poison(rng)[0] for _ in range(100)]
    values += [
        FOOTPRINT.encode(),
        b'{"link": "/a\\u0000", "method": "GET", "footprint_time": "2025-05-19T13:45:30Z"}',
        b'{"link": "", "method": "GET", "footprint_time": "2025-05-19T13:45:30Z"}',
        b'{"link": "/", "method": "G T", "footprint_time": "2025-05-19T13:45:30Z"}',
        b'{"link": "/", "method": "GET", "footprint_time": "2025-05-19T13:45:30.1234567890Z"}',
        None,
    ]
    for value in values:
        assert decode_footprint_message(value) == decode_value(value, decode_footprint), value
