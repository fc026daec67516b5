"""FastAPI/Starlette middleware that publishes one page-visit event per HTTP request.

    producer = footprint_producer("kafka:9092")
    app.add_middleware(FootprintMiddleware, producer=producer, topic="web-logs-topic")
    # on shutdown (lifespan): producer.flush(5)

The event is what the ingestion expects on ``web-logs-topic``:
``{"link": "/posts/42?ref=home", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"}``,
the time being when the request arrived, in the server's time zone with its offset.

Publishing never blocks or fails a request: ``produce`` only enqueues (librdkafka sends
from its own thread), ``poll(0)`` serves delivery reports without waiting, a full local
queue drops the event with a warning, and failed deliveries are logged with the event.
A pure ASGI middleware rather than BaseHTTPMiddleware: it does not buffer streaming
responses and adds no task per request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import Any

log = logging.getLogger(__name__)

LATENCY_CONFIG: dict[str, Any] = {
    # Short linger: a web server wants events out soon, not in big batches.
    "linger.ms": 20,
    "compression.type": "lz4",
    "enable.idempotence": True,
    "acks": "all",
    # Bounded memory in the web process: beyond this, events are dropped (and logged).
    "queue.buffering.max.messages": 100_000,
    "message.timeout.ms": 30_000,
    "delivery.report.only.error": True,
}


def footprint_producer(bootstrap: str, **overrides: Any):
    """A confluent_kafka Producer configured for the middleware."""
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, **LATENCY_CONFIG, **overrides})


def footprint_event(scope: dict, now: datetime) -> dict[str, str]:
    """The page-visit event of one ASGI HTTP request."""
    link = scope.get("path") or "/"
    query = scope.get("query_string") or b""
    if query:
        link = f"{link}?{query.decode('latin-1')}"
    return {
        "link": link,
        "method": scope.get("method", "GET"),
        "footprint_time": now.isoformat(timespec="milliseconds"),
    }


class FootprintMiddleware:
    """ASGI middleware: one event per HTTP request to a Kafka topic, fire and forget."""

    def __init__(
        self,
        app,
        *,
        producer,
        topic: str = "web-logs-topic",
        exclude_paths: Iterable[str] = (),
        timezone: tzinfo | None = None,
        clock: Callable[[tzinfo | None], datetime] | None = None,
    ) -> None:
        self.app = app
        self.producer = producer
        self.topic = topic
        self.exclude_paths = frozenset(exclude_paths)
        self.timezone = timezone
        self._clock = clock or (lambda tz: datetime.now(tz).astimezone(tz))
        self.dropped = 0
        self.failed = 0

    def _on_delivery(self, err, msg) -> None:
        if err is None:
            return
        self.failed += 1
        value = msg.value()
        log.error(
            "footprint event not delivered to Kafka topic %r: %s (event: %s)",
            self.topic,
            err,
            value.decode("utf-8", "replace") if value else value,
        )

    def publish(self, scope: dict) -> None:
        event = footprint_event(scope, self._clock(self.timezone))
        value = json.dumps(event, ensure_ascii=False).encode("utf-8")
        try:
            self.producer.produce(self.topic, value, on_delivery=self._on_delivery)
        except BufferError:
            self.dropped += 1
            log.warning(
                "Kafka producer queue full: footprint event dropped (%d so far); is the broker reachable? "
                "(event: %s)",
                self.dropped,
                event,
            )
        except Exception:
            # Never let analytics break the page; but say so, with the event.
            self.dropped += 1
            log.exception("publishing a footprint event failed (event: %s)", event)
        # Serve delivery reports of earlier events; returns at once.
        self.producer.poll(0)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("path") not in self.exclude_paths:
            self.publish(scope)
        await self.app(scope, receive, send)
