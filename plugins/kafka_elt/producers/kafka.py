"""A confluent_kafka Producer tuned for throughput, and a produce loop with progress.

Batching is what makes Python produce fast: with a long linger and large batches,
librdkafka ships ~1 MB lz4-compressed record batches, and ``produce`` only enqueues.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

THROUGHPUT_CONFIG: dict[str, Any] = {
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 512 * 1024,
    # Idempotence keeps retried batches from duplicating or reordering messages.
    "enable.idempotence": True,
    "acks": "all",
    # One Python callback per failed message only: a callback per delivered message
    # costs about as much as the produce call itself.
    "delivery.report.only.error": True,
}


def default_bootstrap() -> str:
    """KAFKA_BOOTSTRAP_SERVERS (the stack's env file sets it), else the stack's config."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    from kafka_elt.stack.config import StackConfig

    return StackConfig.load(create_secrets=False).kafka_bootstrap


class DeliveryTracker:
    """Counts failed deliveries; each is logged (the first in full), never ignored."""

    def __init__(self) -> None:
        self.failed = 0
        self.first_error: str | None = None

    def __call__(self, err, msg) -> None:
        if err is None:
            return
        self.failed += 1
        if self.first_error is None:
            self.first_error = f"{msg.topic()}: {err}"
            log.error("delivery to %s failed: %s", msg.topic(), err)


def make_producer(bootstrap: str, tracker: DeliveryTracker | None = None, **overrides: Any):
    """A Producer whose failed deliveries go to ``tracker`` (see produce_all)."""
    from confluent_kafka import Producer

    config = {"bootstrap.servers": bootstrap, **THROUGHPUT_CONFIG, **overrides}
    if tracker is not None:
        config["on_delivery"] = tracker
    return Producer(config)


def produce_all(
    producer,
    tracker: DeliveryTracker,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes | None]],
    *,
    label: str | None = None,
    progress_every_s: float = 2.0,
    out=sys.stderr,
) -> int:
    """Produce (key, value) pairs and wait until every one is delivered; returns the count.

    ``producer`` must report to ``tracker`` (``make_producer(bootstrap, tracker)``).
    Raises RuntimeError when any message was not delivered.
    """
    failed_before = tracker.failed
    label = label or topic
    started = last = time.monotonic()
    sent = 0
    produce, poll = producer.produce, producer.poll
    for key, value in messages:
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                poll(0.05)  # local queue full: let librdkafka ship batches
        sent += 1
        if sent % 10_000 == 0:
            poll(0)
            now = time.monotonic()
            if now - last >= progress_every_s:
                last = now
                print(
                    f"{label}: {sent:,} produced, {sent / (now - started):,.0f} msg/s", file=out, flush=True
                )
    remaining = producer.flush(120)
    elapsed = time.monotonic() - started
    if remaining:
        raise RuntimeError(f"{label}: {remaining} messages still undelivered after 120 s; is the broker up?")
    failed = tracker.failed - failed_before
    if failed:
        raise RuntimeError(
            f"{label}: {failed} of {sent} messages failed delivery, first: {tracker.first_error}"
        )
    print(
        f"{label}: {sent:,} delivered in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f} msg/s)",
        file=out,
        flush=True,
    )
    return sent
