"""Sample data: realistic, valid where meant to be, poison where meant to be."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from datetime import timedelta

import pytest

from kafka_elt.ingest.validators import (
    KINDS,
    MAX_EPOCH_SECONDS,
    parse_footprint_time,
    poison_reason,
    validate_candle,
    validate_footprint,
)
from kafka_elt.producers.candles import SCHEMA_FIELDS, CandleSimulator, envelope_json, payload_json
from kafka_elt.producers.footprints import footprints, format_time
from kafka_elt.producers.malformed import candle_poison, footprint_poison
from kafka_elt.producers.sample import candle_messages, footprint_messages


def test_candle_envelope_has_the_connect_shape():
    candle = next(iter(CandleSimulator(seed=1)))
    envelope = json.loads(envelope_json(candle))
    assert set(envelope) == {"schema", "payload"}
    assert envelope["schema"]["type"] == "struct" and envelope["schema"]["optional"] is False
    assert [f["field"] for f in envelope["schema"]["fields"]] == [name for name, _ in SCHEMA_FIELDS]
    assert envelope["payload"] == json.loads(payload_json(candle)) == candle.as_dict()


def test_candles_are_random_walk_minutes_re_sent_as_they_update():
    updates = list(zip(range(3000), CandleSimulator(seed=3, updates_per_candle=(1, 4)), strict=False))
    by_key = Counter((c.code, c.timestamp) for _, c in updates)
    assert len({code for code, _ in by_key}) >= 6
    assert max(by_key.values()) > 1  # re-sent
    assert {ts % 60 for _, ts in by_key} == {0}
    for _, c in updates:
        assert (
            c.low_price
            <= min(c.opening_price, c.trade_price)
            <= max(c.opening_price, c.trade_price)
            <= c.high_price
        )
        assert 0 <= c.timestamp <= MAX_EPOCH_SECONDS
    # Updates of one candle only ever grow the volume.
    last: dict = {}
    for _, c in updates:
        key = (c.code, c.timestamp)
        assert c.candle_acc_trade_volume >= last.get(key, 0.0)
        last[key] = c.candle_acc_trade_volume


def test_candle_messages_mix_envelopes_bare_payloads_and_poison():
    messages = list(candle_messages(5000, schemaless_share=0.2, malformed_share=0.05, seed=11))
    assert len(messages) == 5000
    reasons = [poison_reason(value, validate_candle) for _, value in messages]
    poison = sum(r is not None for r in reasons)
    assert 150 < poison < 350  # ~5 %
    good = [json.loads(v) for (_, v), r in zip(messages, reasons, strict=True) if r is None]
    envelopes = sum("payload" in m for m in good)
    assert 0.7 < envelopes / len(good) < 0.9  # ~80 % envelopes
    assert all(
        k is not None for (k, _), r in zip(messages, reasons, strict=True) if r is None
    )  # keyed by code


def test_every_poison_kind_is_rejected():
    rng = random.Random(5)
    for _ in range(300):
        value, what = candle_poison(rng)
        assert poison_reason(value, KINDS["market_candle"]) is not None, what
        value, what = footprint_poison(rng)
        assert poison_reason(value, KINDS["footprint"]) is not None, what


def test_footprints_cover_links_methods_and_time_zones_and_all_parse():
    events = [e for _, e in zip(range(3000), footprints(seed=2), strict=False)]
    assert len({e["link"] for e in events}) > 1000
    assert {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"} <= {e["method"] for e in events}
    suffixes = {e["footprint_time"][-6:] for e in events if not e["footprint_time"].endswith("Z")}
    assert {"+09:00", "-05:00", "+05:30", "-03:30"} <= suffixes
    assert any(e["footprint_time"].endswith("Z") for e in events)
    assert any("." not in e["footprint_time"] for e in events)  # no fractional seconds
    for e in events:
        assert validate_footprint(json.dumps(e)) is None, e
    # One clock, written in many zones (times without a fraction are truncated to the second).
    times = [parse_footprint_time(e["footprint_time"]) for e in events]
    assert all(later - earlier > -timedelta(seconds=1) for earlier, later in itertools.pairwise(times))
    assert times[-1] - times[0] > timedelta(minutes=1)


@pytest.mark.parametrize(
    ("offset", "digits", "expected"),
    [
        (0, 0, "2025-05-19T04:45:30Z"),
        (0, 3, "2025-05-19T04:45:30.123+00:00"),
        (9 * 60, 3, "2025-05-19T13:45:30.123+09:00"),
        (-(3 * 60 + 30), 6, "2025-05-19T01:15:30.123456-03:30"),
    ],
)
def test_format_time(offset, digits, expected):
    from datetime import UTC, datetime

    assert format_time(datetime(2025, 5, 19, 4, 45, 30, 123456, UTC), offset, digits) == expected


def test_footprint_messages_have_no_key_and_the_asked_poison_share():
    messages = list(footprint_messages(4000, malformed_share=0.1, seed=4))
    assert all(key is None for key, _ in messages)
    poison = sum(poison_reason(v, validate_footprint) is not None for _, v in messages)
    assert 300 < poison < 500
