"""The footprint middleware: one event per request, never blocking or failing the request."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.testclient import TestClient

from kafka_elt.ingest.validators import parse_footprint_time, validate_footprint
from kafka_elt.producers.middleware import FootprintMiddleware, footprint_producer

SEOUL = timezone(timedelta(hours=9))


class RecordingProducer:
    """Stands in for confluent_kafka.Producer's interface only (produce/poll); the
    integration test uses the real broker."""

    def __init__(self, full: bool = False) -> None:
        self.produced: list[tuple[str, bytes]] = []
        self.callbacks = []
        self.polls = 0
        self.full = full

    def produce(self, topic, value, on_delivery=None):
        if self.full:
            raise BufferError("Local: Queue full")
        self.produced.append((topic, value))
        self.callbacks.append(on_delivery)

    def poll(self, timeout):
        assert timeout == 0, "the middleware must never wait for Kafka"
        self.polls += 1
        return 0


def make_app(producer, **options) -> FastAPI:
    app = FastAPI()

    @app.get("/posts/{post_id}")
    def post(post_id: int):
        return {"id": post_id}

    @app.post("/login")
    def login():
        return PlainTextResponse("ok")

    @app.get("/health")
    def health():
        return PlainTextResponse("ok")

    app.add_middleware(FootprintMiddleware, producer=producer, topic="web-logs-topic", **options)
    return app


def test_one_valid_event_per_request():
    producer = RecordingProducer()
    fixed = datetime(2025, 5, 19, 13, 45, 30, 123456, SEOUL)
    app = make_app(producer, timezone=SEOUL, clock=lambda tz: fixed, exclude_paths={"/health"})
    with TestClient(app) as client:
        assert client.get("/posts/42?ref=home").json() == {"id": 42}
        assert client.post("/login").text == "ok"
        assert client.get("/health").text == "ok"
        assert client.get("/missing").status_code == 404
    events = [json.loads(value) for _, value in producer.produced]
    assert [topic for topic, _ in producer.produced] == ["web-logs-topic"] * 3
    assert events == [
        {"link": "/posts/42?ref=home", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"},
        {"link": "/login", "method": "POST", "footprint_time": "2025-05-19T13:45:30.123+09:00"},
        {"link": "/missing", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"},
    ]
    for _, value in producer.produced:
        assert validate_footprint(value.decode()) is None
    assert producer.polls == 3


def test_default_clock_is_now_with_the_servers_offset():
    producer = RecordingProducer()
    with TestClient(make_app(producer)) as client:
        client.get("/posts/1")
    ((_, value),) = producer.produced
    sent = parse_footprint_time(json.loads(value)["footprint_time"])
    assert abs(sent - datetime.now(sent.tzinfo)) < timedelta(seconds=10)


def test_full_queue_drops_the_event_not_the_request(caplog):
    producer = RecordingProducer(full=True)
    app = make_app(producer)
    with TestClient(app) as client, caplog.at_level(logging.WARNING):
        assert client.get("/posts/7").status_code == 200
        assert client.get("/posts/8").status_code == 200
    middleware = app.middleware_stack
    while not isinstance(middleware, FootprintMiddleware):
        middleware = middleware.app
    assert middleware.dropped == 2
    assert "queue full" in caplog.text and "/posts/8" in caplog.text


def test_delivery_errors_are_logged_with_the_event(caplog):
    producer = RecordingProducer()
    with TestClient(make_app(producer)) as client:
        client.get("/posts/9")

    class FailedMessage:
        def value(self):
            return producer.produced[0][1]

    with caplog.at_level(logging.ERROR):
        producer.callbacks[0]("KafkaError{code=_MSG_TIMED_OUT}", FailedMessage())
        producer.callbacks[0](None, FailedMessage())  # success: silent
    assert (
        caplog.text.count("not delivered") == 1
        and "/posts/9" in caplog.text
        and "_MSG_TIMED_OUT" in caplog.text
    )


@pytest.mark.timeout(60)
def test_real_producer_with_unreachable_broker_never_blocks_requests(caplog):
    """A real confluent_kafka Producer whose broker is down: requests stay fast, and the
    lost events surface as logged delivery errors once librdkafka gives up on them."""
    # log_level 0: the broker being unreachable is the point; no log line per reconnect.
    producer = footprint_producer(
        "127.0.0.1:9",
        **{"message.timeout.ms": 1500, "socket.connection.setup.timeout.ms": 1000, "log_level": 0},
    )
    app = make_app(producer)
    with TestClient(app) as client:
        started = time.monotonic()
        for n in range(20):
            assert client.get(f"/posts/{n}").status_code == 200
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"20 requests took {elapsed:.2f}s: the middleware waited for Kafka"
    with caplog.at_level(logging.ERROR):
        assert producer.flush(10) == 0
    middleware = app.middleware_stack
    while not isinstance(middleware, FootprintMiddleware):
        middleware = middleware.app
    assert middleware.failed == 20
    assert caplog.text.count("footprint event not delivered") == 20
