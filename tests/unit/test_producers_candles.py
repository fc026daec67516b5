"""producers.candles: sample candles, re-sent as they update, in the Connect envelope."""

from __future__ import annotations

import json
from collections import Counter

from kafka_elt.ingest.validators import MAX_EPOCH_SECONDS
from kafka_elt.producers.candles import SCHEMA_FIELDS, CandleSimulator, envelope_json, payload_json


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
