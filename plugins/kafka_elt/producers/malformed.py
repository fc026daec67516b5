"""Poison messages, one of each kind the ingestion must dead-letter without failing.

Each generator returns (value bytes or None, what is wrong with it); tests assert the
ingestion's dead-letter reason against the second part.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from kafka_elt.producers.candles import SCHEMA, SampleCandle, envelope_json, payload_json

Poison = tuple[bytes | None, str]


def _candle(rng: random.Random) -> SampleCandle:
    price = round(rng.uniform(100, 50000), 2)
    return SampleCandle(
        "BTC-USD", 1_735_689_600 + 60 * rng.randint(0, 10_000), price, price, price, price, 1.0, price
    )


def candle_poison(rng: random.Random) -> Poison:
    c = _candle(rng)
    kinds: list[Callable[[], Poison]] = [
        lambda: (b"\xff\xfe" + envelope_json(c).encode()[2:], "not UTF-8"),
        lambda: (envelope_json(c).encode()[:-7], "not valid JSON"),
        lambda: (envelope_json(c).replace('"code": "BTC-USD", ', "").encode(), "missing code"),
        lambda: (envelope_json(c).replace(f'"timestamp": {c.timestamp}, ', "").encode(), "missing timestamp"),
        lambda: (
            payload_json(c).replace(f'"timestamp": {c.timestamp}', f'"timestamp": "{c.timestamp}"').encode(),
            "timestamp is a string",
        ),
        lambda: (
            envelope_json(c).replace(f'"trade_price": {c.trade_price!r}', '"trade_price": "n/a"').encode(),
            "price is a string",
        ),
        lambda: (
            payload_json(c).replace(f'"trade_price": {c.trade_price!r}', '"trade_price": NaN').encode(),
            "NaN is not JSON",
        ),
        lambda: (json.dumps({"schema": SCHEMA, "payload": None}).encode(), "null payload"),
        lambda: (b"", "empty value"),
        lambda: (None, "tombstone"),
    ]
    return rng.choice(kinds)()


def footprint_poison(rng: random.Random) -> Poison:
    kinds: list[Poison] = [
        (b'{"link": "/posts/1", "method": "GET", "footprint_time": "2025-05-19T13:45:30"}', "no UTC offset"),
        (b'{"link": "/posts/1", "method": "GET", "footprint_time": "2025-13-45T13:45:30Z"}', "no such date"),
        (b'{"link": "/posts/1", "method": "GET", "footprint_time": "yesterday"}', "not a time"),
        (b'{"link": "/posts/1", "method": "GET", "footprint_time": 1747662330}', "time is a number"),
        (b'{"link": "/posts/1", "footprint_time": "2025-05-19T13:45:30Z"}', "missing method"),
        (b'{"link": "/posts/1", "method": "GET", "footprint_time": "2025-05-19T13:45', "truncated JSON"),
        (b"link=/posts/1&method=GET", "not JSON"),
        (
            b'{"link": "/caf\xe9", "method": "GET", "footprint_time": "2025-05-19T13:45:30Z"}',
            "Latin-1, not UTF-8",
        ),
        (b'["/posts/1", "GET", "2025-05-19T13:45:30Z"]', "array, not object"),
    ]
    return rng.choice(kinds)
