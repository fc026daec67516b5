"""producers.malformed: every kind of poison message is one the ingestion refuses."""

from __future__ import annotations

import random

from kafka_elt.ingest.validators import KINDS, poison_reason
from kafka_elt.producers.malformed import candle_poison, footprint_poison


def test_every_poison_kind_is_rejected():
    rng = random.Random(5)
    for _ in range(300):
        value, what = candle_poison(rng)
        assert poison_reason(value, KINDS["market_candle"]) is not None, what
        value, what = footprint_poison(rng)
        assert poison_reason(value, KINDS["footprint"]) is not None, what
