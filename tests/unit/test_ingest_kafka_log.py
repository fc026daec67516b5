"""librdkafka's output in the pipeline's log: transient broker trouble as grouped warnings."""

from __future__ import annotations

import logging
import time

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from kafka_elt.ingest.consumer import serve_client_events
from kafka_elt.ingest.kafka_log import KafkaClientLog, broker_of, is_transient

REFUSED = (
    "[thrd:127.0.0.1:9092/1]: 127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: "
    "Connection refused (after 0ms in state CONNECT)"
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(caplog):
    caplog.set_level(logging.DEBUG, logger="kafka_elt.ingest.kafka_log")
    return KafkaClientLog("web-logs-topic[0]", clock=Clock())


def lines(caplog, level=None):
    return [r for r in caplog.records if level is None or r.levelno == level]


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (KafkaError._TRANSPORT, True),
        (KafkaError._ALL_BROKERS_DOWN, True),
        (KafkaError._RESOLVE, True),
        (KafkaError._TIMED_OUT, True),
        (KafkaError._AUTHENTICATION, False),
        (KafkaError._SSL, False),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, False),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, False),
    ],
)
def test_error_codes(code, transient):
    assert is_transient(code, "whatever the text says") is transient


@pytest.mark.parametrize(
    ("text", "transient"),
    [
        (REFUSED, True),
        ("[thrd:main]: 1/1 brokers are down", True),
        ("[thrd:kafka:9092/1]: kafka:9092/1: Disconnected (after 3012ms in state UP)", True),
        (
            "[thrd:kafka:9092/bootstrap]: kafka:9092/bootstrap: Failed to resolve 'kafka:9092': Name or service",
            True,
        ),
        ("[thrd:main]: Offset commit failed: Broker: Unknown member", False),
        ("[thrd:ssl]: SSL handshake failed: certificate verify failed", False),
    ],
)
def test_log_lines(text, transient):
    assert is_transient(None, text) is transient


def test_broker_of():
    assert broker_of(REFUSED) == "127.0.0.1:9092"
    assert broker_of(
        "[thrd:GroupCoordinator]: GroupCoordinator: kafka-0.kafka:9092: Connect to x failed"
    ) == ("kafka-0.kafka:9092")
    assert broker_of("1/1 brokers are down") == "all brokers"


def test_transient_lines_become_one_warning_per_broker_per_window(client, caplog):
    for second in range(25):  # librdkafka at error level, once a second, for two brokers
        client.clock.now = float(second)
        client.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", REFUSED)
        client.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", REFUSED.replace("9092", "9093"))
    client.flush()
    assert lines(caplog, logging.ERROR) == []
    warnings = [r.getMessage() for r in lines(caplog, logging.WARNING)]
    per_broker = {b: [w for w in warnings if f"broker 127.0.0.1:{b} " in w] for b in ("9092", "9093")}
    for found in per_broker.values():
        # Lines at 0, 10 and 20 s, then the rest at flush: 1 + 10 + 10 + 4 = 25 events.
        assert len(found) == 4
        assert [int(w.split(", ")[1].split(" time")[0]) for w in found] == [1, 10, 10, 4]
        assert "Connection refused" in found[0] and "an error only if the task gives up" in found[0]
    assert client.transient_total == 50


def test_transient_errors_through_error_cb(client, caplog):
    client.error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    client.error(KafkaError(KafkaError._TRANSPORT, REFUSED.split("]: ", 1)[1]))
    assert [r.levelno for r in lines(caplog)] == [logging.WARNING, logging.WARNING]
    assert "all brokers unreachable for now" in caplog.records[0].getMessage()
    assert "_ALL_BROKERS_DOWN" in caplog.records[0].getMessage()
    assert "broker 127.0.0.1:9092" in caplog.records[1].getMessage()


def test_other_problems_keep_their_level(client, caplog):
    client.log(
        logging.ERROR,
        "%s [%s] %s",
        "COMMITFAIL",
        "rdkafka#consumer-1",
        "Offset commit failed: Unknown member",
    )
    client.log(logging.INFO, "%s [%s] %s", "CONFWARN", "rdkafka#consumer-1", "Configuration property ignored")
    client.error(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed"))
    assert [r.levelno for r in lines(caplog)] == [logging.ERROR, logging.INFO, logging.ERROR]
    assert client.transient_total == 0 and client.story() == ""


def test_authentication_failure_still_raises_as_the_provider_does(client):
    from airflow.providers.apache.kafka.hooks.consume import KafkaAuthenticationError

    with pytest.raises(KafkaAuthenticationError):
        client.error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication failed"))


def test_story_for_the_error_raised_when_giving_up(client):
    for second in (3.0, 9.0, 14.0):
        client.clock.now = second
        client.error(KafkaError(KafkaError._TRANSPORT, REFUSED.split("]: ", 1)[1]))
    client.clock.now = 20.0
    story = client.story()
    assert "3 connection error(s) over 11 s, the latest 6 s ago" in story and "Connection refused" in story
    assert client.transient_since(14.0) and not client.transient_since(14.5)


def test_unassigned_consumers_hand_queued_events_to_the_callbacks():
    class Probe:
        def __init__(self, assigned):
            self.assigned, self.polls = assigned, []

        def assignment(self):
            return [TopicPartition("t", 0, 5)] if self.assigned else []

        def poll(self, timeout):
            self.polls.append(timeout)

    idle, draining = Probe(assigned=False), Probe(assigned=True)
    serve_client_events(idle)
    serve_client_events(draining)
    assert idle.polls == [0] and draining.polls == []  # a poll could take the drain's message


def test_a_real_client_without_a_broker_logs_warnings_not_errors(caplog):
    """librdkafka itself, pointed at a port where nothing listens (no service needed)."""
    caplog.set_level(logging.DEBUG, logger="kafka_elt.ingest.kafka_log")
    client = KafkaClientLog("probe")
    consumer = Consumer(
        {"bootstrap.servers": "127.0.0.1:1", "group.id": "kafka-log-test", "logger": client,
         "error_cb": client.error, "reconnect.backoff.ms": 50}
    )  # fmt: skip
    try:
        serve_client_events(consumer)
        deadline = time.monotonic() + 10
        while client.transient_total < 3 and time.monotonic() < deadline:
            consumer.poll(0.2)
    finally:
        consumer.close()
    client.flush()
    assert client.transient_total >= 3
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("broker 127.0.0.1:1 unreachable for now" in r.getMessage() for r in caplog.records)


def test_the_pipeline_consumer_routes_librdkafka_through_its_client_log(monkeypatch):
    from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook

    from kafka_elt.ingest.connections import _consumer_hook_class

    monkeypatch.setattr(KafkaConsumerHook, "_get_client", lambda self, config: config)
    client_log = KafkaClientLog("web-logs-topic[0]")
    hook = _consumer_hook_class()("kafka_default", "ingest", client_log)
    config = hook._get_client({"bootstrap.servers": "kafka:9092"})
    assert config["logger"] is client_log and config["error_cb"] == client_log.error
    assert config["enable.auto.commit"] is False and config["group.id"] == "ingest"

    def own_callback(err):  # a connection's own error_cb (allow-listed dotted path) is kept
        pass

    config = hook._get_client({"bootstrap.servers": "kafka:9092", "error_cb": own_callback})
    assert config["error_cb"] is own_callback and config["logger"] is client_log
