"""producers.sample: sample-data messages, valid where meant to be, poison where meant to be."""

from __future__ import annotations

import json

from kafka_elt.ingest.validators import poison_reason, validate_candle, validate_footprint
from kafka_elt.producers.sample import candle_messages, footprint_messages


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


def test_footprint_messages_have_no_key_and_the_asked_poison_share():
    messages = list(footprint_messages(4000, malformed_share=0.1, seed=4))
    assert all(key is None for key, _ in messages)
    poison = sum(poison_reason(v, validate_footprint) is not None for _, v in messages)
    assert 300 < poison < 500
