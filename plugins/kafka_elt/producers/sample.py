"""Produce realistic sample data into the candle and page-visit topics.

    python -m kafka_elt.producers.sample --candles 20000 --footprints 50000 --malformed-share 0.02
    python -m kafka_elt.producers.sample --scale        # a year of candles, 10M page visits

Candles: random-walk 1-minute candles for several codes, each re-sent 1-4 times as it
updates, mostly as Kafka Connect envelopes with some bare payloads; keyed by code so
that a candle's updates stay in order in one partition. Page visits: many links,
methods and time zones, no key (as the middleware sends them). A share of each topic
is malformed (see ``malformed``), for the dead-letter path.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections.abc import Iterator
from datetime import datetime

from kafka_elt.producers.candles import CODES, CandleSimulator, envelope_json, payload_json
from kafka_elt.producers.footprints import footprint_json, footprints
from kafka_elt.producers.kafka import DeliveryTracker, default_bootstrap, make_producer, produce_all
from kafka_elt.producers.malformed import candle_poison, footprint_poison

CANDLE_TOPIC = "market_candle"
FOOTPRINT_TOPIC = "web-logs-topic"
MINUTES_PER_YEAR = 365 * 24 * 60


def candle_messages(
    count: int, *, schemaless_share: float = 0.2, malformed_share: float = 0.0, seed: int | None = None,
    codes: dict[str, float] | None = None, updates_per_candle: tuple[int, int] = (1, 4),
    start_epoch: int | None = None,
) -> Iterator[tuple[bytes | None, bytes | None]]:  # fmt: skip
    """``count`` (key, value) candle messages, ``malformed_share`` of them poison; the
    candles start at ``start_epoch`` (default: the simulator's, 2025-01-01)."""
    rng = random.Random(seed)
    start = {} if start_epoch is None else {"start_epoch": start_epoch}
    simulator = CandleSimulator(codes=codes, seed=seed, updates_per_candle=updates_per_candle, **start)
    for candle in itertools.islice(simulator, count):
        if malformed_share and rng.random() < malformed_share:
            value, _ = candle_poison(rng)
            yield None, value
            continue
        text = payload_json(candle) if rng.random() < schemaless_share else envelope_json(candle)
        yield candle.code.encode(), text.encode()


def footprint_messages(
    count: int, *, malformed_share: float = 0.0, seed: int | None = None, start: datetime | None = None
) -> Iterator[tuple[bytes | None, bytes | None]]:
    """``count`` (key, value) page-visit messages in time order from ``start`` (default:
    the generator's, 2025-05-19), ``malformed_share`` of them poison."""
    rng = random.Random(seed)
    for event in itertools.islice(footprints(start=start, seed=seed), count):
        if malformed_share and rng.random() < malformed_share:
            value, _ = footprint_poison(rng)
            yield None, value
        else:
            yield None, footprint_json(event).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kafka_elt.producers.sample", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--candles", type=int, default=20_000, help="candle messages (updates included)")
    parser.add_argument("--footprints", type=int, default=50_000, help="page-visit messages")
    parser.add_argument("--malformed-share", type=float, default=0.02, help="share of poison messages (0..1)")
    parser.add_argument(
        "--schemaless-share", type=float, default=0.2, help="share of candles without envelope"
    )
    parser.add_argument(
        "--bootstrap", default=None, help="Kafka bootstrap servers (default: the local stack)"
    )
    parser.add_argument("--candle-topic", default=CANDLE_TOPIC)
    parser.add_argument("--footprint-topic", default=FOOTPRINT_TOPIC)
    parser.add_argument("--seed", type=int, default=None, help="make the data reproducible")
    parser.add_argument(
        "--scale",
        action="store_true",
        help=f"large volumes: a year of 1-minute candles for {len(CODES)} codes (one message each) "
        "and 10,000,000 page visits; overrides --candles/--footprints",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.malformed_share <= 1.0 or not 0.0 <= args.schemaless_share <= 1.0:
        parser.error("shares must be between 0 and 1")

    updates = (1, 4)
    if args.scale:
        args.candles, args.footprints, updates = MINUTES_PER_YEAR * len(CODES), 10_000_000, (1, 1)
    bootstrap = args.bootstrap or default_bootstrap()
    tracker = DeliveryTracker()
    producer = make_producer(bootstrap, tracker)
    print(f"sample: producing {args.candles:,} candles to {args.candle_topic!r} and {args.footprints:,} page "
          f"visits to {args.footprint_topic!r} on {bootstrap} ({args.malformed_share:.1%} malformed)",
          file=sys.stderr, flush=True)  # fmt: skip
    if args.candles:
        produce_all(
            producer,
            tracker,
            args.candle_topic,
            candle_messages(
                args.candles,
                schemaless_share=args.schemaless_share,
                malformed_share=args.malformed_share,
                seed=args.seed,
                updates_per_candle=updates,
            ),
            label="candles",
        )
    if args.footprints:
        produce_all(
            producer,
            tracker,
            args.footprint_topic,
            footprint_messages(args.footprints, malformed_share=args.malformed_share, seed=args.seed),
            label="page visits",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
