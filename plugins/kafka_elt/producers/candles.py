"""Market candles: random-walk 1-minute candles for several codes, each re-sent as it
updates (same code and timestamp, new prices and volume), serialised as Kafka Connect's
JsonConverter writes them (schema + payload envelope) or as the bare payload.

JSON is formatted from a precomputed schema and an f-string rather than json.dumps:
the benchmark and the scale mode produce millions of messages, and this is ~3x faster.
Every value formatted is a finite float, an int or a known ASCII code, so the output is
valid JSON (tests decode it with json.loads).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

CODES: dict[str, float] = {
    "BTC-USD": 45000.0,
    "ETH-USD": 3000.0,
    "SOL-USD": 150.0,
    "XRP-USD": 0.6,
    "ADA-USD": 0.45,
    "DOGE-USD": 0.12,
    "AVAX-USD": 35.0,
    "DOT-USD": 7.0,
}

# Field order and types as in the Connect schema of the old sink.
SCHEMA_FIELDS = (
    ("type", "string"),
    ("code", "string"),
    ("opening_price", "double"),
    ("high_price", "double"),
    ("low_price", "double"),
    ("trade_price", "double"),
    ("candle_acc_trade_volume", "double"),
    ("candle_acc_trade_price", "double"),
    ("timestamp", "int64"),
    ("stream_type", "string"),
)
SCHEMA = {
    "type": "struct",
    "name": "market_candle",
    "optional": False,
    "fields": [{"field": name, "type": kind} for name, kind in SCHEMA_FIELDS],
}
_SCHEMA_JSON = json.dumps(SCHEMA, separators=(", ", ": "))


@dataclass
class SampleCandle:
    code: str
    timestamp: int  # epoch seconds of the minute's start
    opening_price: float
    high_price: float
    low_price: float
    trade_price: float
    candle_acc_trade_volume: float
    candle_acc_trade_price: float
    type: str = "candle"
    stream_type: str = "realtime"

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name, _ in SCHEMA_FIELDS}


def payload_json(c: SampleCandle) -> str:
    return (
        f'{{"type": "{c.type}", "code": "{c.code}", "opening_price": {c.opening_price!r}, '
        f'"high_price": {c.high_price!r}, "low_price": {c.low_price!r}, "trade_price": {c.trade_price!r}, '
        f'"candle_acc_trade_volume": {c.candle_acc_trade_volume!r}, '
        f'"candle_acc_trade_price": {c.candle_acc_trade_price!r}, "timestamp": {c.timestamp}, '
        f'"stream_type": "{c.stream_type}"}}'
    )


def envelope_json(c: SampleCandle) -> str:
    return f'{{"schema": {_SCHEMA_JSON}, "payload": {payload_json(c)}}}'


def _round_price(value: float) -> float:
    # Exchange-like tick sizes: 2 decimals for large prices, more for cheap coins.
    return round(value, 2 if value >= 10 else 5)


class CandleSimulator:
    """Random-walk prices per code; yields every update of every candle in time order."""

    def __init__(
        self,
        codes: dict[str, float] | None = None,
        start_epoch: int = 1_735_689_600,  # 2025-01-01T00:00:00Z
        updates_per_candle: tuple[int, int] = (1, 4),
        seed: int | None = None,
    ) -> None:
        self.codes = dict(codes or CODES)
        self.minute = start_epoch - start_epoch % 60
        self.updates = updates_per_candle
        self.rng = random.Random(seed)
        self.price = dict(self.codes)

    def _minute_updates(self, code: str, timestamp: int) -> list[SampleCandle]:
        rng = self.rng
        open_price = self.price[code]
        n_updates = rng.randint(*self.updates)
        price = high = low = open_price
        volume = turnover = 0.0
        updates = []
        for _ in range(n_updates):
            price = max(open_price * 0.5, price * (1.0 + rng.gauss(0.0, 0.0012)))
            high, low = max(high, price), min(low, price)
            traded = rng.expovariate(1.0) * 1000.0 / open_price
            volume += traded
            turnover += traded * price
            updates.append(
                SampleCandle(
                    code=code,
                    timestamp=timestamp,
                    opening_price=_round_price(open_price),
                    high_price=_round_price(high),
                    low_price=_round_price(low),
                    trade_price=_round_price(price),
                    candle_acc_trade_volume=round(volume, 8),
                    candle_acc_trade_price=round(turnover, 4),
                    stream_type="realtime",
                )
            )
        self.price[code] = price
        return updates

    def __iter__(self) -> Iterator[SampleCandle]:
        while True:
            timestamp = self.minute
            for code in self.codes:
                yield from self._minute_updates(code, timestamp)
            self.minute += 60
