"""Kafka side of a run: which partitions to drain and how far (the plan), and where
each partition resumes (the group's committed offset).

The plan is taken once, when the run starts: each partition is drained up to the high
watermark seen then, never chasing messages produced during the run. That bounds every
run, and a retried task drains the same range it was planned for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

from kafka_elt.ingest.connections import Connections
from kafka_elt.ingest.errors import KafkaReadError, TopicNotFound
from kafka_elt.ingest.registry import TopicSpec

log = logging.getLogger(__name__)

KAFKA_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class PartitionPlan:
    """One partition of one run: drain from the committed offset up to end_offset."""

    topic: str
    partition: int
    end_offset: int  # high watermark when the run started (exclusive)
    low_watermark: int
    committed: int  # -1: the group has no offset yet (starts at the low watermark)

    @property
    def start_offset(self) -> int:
        return self.committed if self.committed >= self.low_watermark else self.low_watermark

    @property
    def lag(self) -> int:
        return max(self.end_offset - self.start_offset, 0)

    def to_dict(self) -> dict:
        return asdict(self)


def with_retries(what: str, call, timeout_s: float = KAFKA_TIMEOUT_S):
    """Run a Kafka client call, retrying errors Kafka marks retriable (coordinator moving
    or still loading, as right after a broker start) until ``timeout_s`` has passed."""
    from confluent_kafka import KafkaError, KafkaException

    # Group-coordinator errors that librdkafka does not flag as retriable, although they
    # only mean "ask again": seen on a fresh broker while __consumer_offsets is created.
    coordinator_moving = {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    }
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            retriable = getattr(error, "retriable", lambda: False)() or (
                getattr(error, "code", lambda: None)() in coordinator_moving
            )
            if not retriable or time.monotonic() + delay > deadline:
                raise
            log.info("%s: %s; retrying in %.1fs", what, error, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def serve_client_events(consumer) -> None:
    """Hand librdkafka's queued log lines and errors to the client's callbacks (kafka_log).

    ``consume`` does so while a drain reads; a consumer that is never assigned (the plan,
    the topic watcher) would otherwise hold them in memory until it is closed. An
    assigned consumer is left alone: a poll could take a message the drain then misses.
    """
    if not consumer.assignment():
        consumer.poll(0)


def read_plans(consumer, topic: str, partitions: list[int]) -> list[PartitionPlan]:
    """Each partition's watermarks and the consumer's group's committed offset, now: one
    offset fetch for all the partitions, one watermark request per partition, transient
    Kafka errors retried. The plan's end is the current high watermark."""
    from confluent_kafka import KafkaException, TopicPartition

    serve_client_events(consumer)
    what = f"offsets of {topic}{partitions}"
    try:
        committed = with_retries(
            what,
            lambda: consumer.committed(
                [TopicPartition(topic, p) for p in partitions], timeout=KAFKA_TIMEOUT_S
            ),
        )
        plans = []
        for tp in committed:
            partition = TopicPartition(topic, tp.partition)
            low, high = with_retries(
                what,
                lambda p=partition: consumer.get_watermark_offsets(p, timeout=KAFKA_TIMEOUT_S, cached=False),
            )
            plans.append(PartitionPlan(topic, tp.partition, high, low, tp.offset if tp.offset >= 0 else -1))
    except KafkaException as exc:
        raise KafkaReadError(
            f"cannot read the offsets of topic {topic!r} partitions {partitions}: {exc}. "
            "Is the broker up (`make status`) and the Kafka connection's bootstrap.servers right?"
        ) from exc
    return plans


def partition_state(consumer, topic: str, partition: int) -> tuple[int, int, int]:
    """(low watermark, high watermark, committed offset or -1) of one partition."""
    (plan,) = read_plans(consumer, topic, [partition])
    return plan.low_watermark, plan.end_offset, plan.committed


def list_partition_ids(consumer, topic_name: str, partitions_hint: int | None = None) -> list[int]:
    from confluent_kafka import KafkaException

    try:
        # All topics, not list_topics(topic): asking for one unknown topic makes
        # librdkafka wait out the whole timeout before saying it is unknown.
        metadata = consumer.list_topics(timeout=KAFKA_TIMEOUT_S)
    except KafkaException as exc:
        raise KafkaReadError(
            f"cannot read the metadata of topic {topic_name!r}: {exc}. Is the broker up (`make status`)?"
        ) from exc
    topic = metadata.topics.get(topic_name)
    if topic is None or topic.error is not None or not topic.partitions:
        reason = topic.error if topic is not None and topic.error is not None else "unknown topic"
        raise TopicNotFound(
            f"topic {topic_name!r} is not on the broker ({reason}). Create it "
            f"({partitions_hint or 'N'} partitions; `make up` creates every registry topic) or fix "
            "include/topics.yaml."
        )
    return sorted(topic.partitions)


def plan_partitions(
    spec: TopicSpec, connections: Connections, group_id: str | None = None
) -> list[PartitionPlan]:
    """The partitions of the topic and how far this run drains each of them."""
    consumer = connections.consumer(group_id or spec.consumer_group)
    try:
        plans = read_plans(consumer, spec.topic, list_partition_ids(consumer, spec.topic, spec.partitions))
    finally:
        consumer.close()
    total = sum(plan.lag for plan in plans)
    log.info(
        "topic %r: %d partitions, %d messages to drain this run (%s)",
        spec.topic,
        len(plans),
        total,
        ", ".join(f"p{p.partition}: {p.start_offset}->{p.end_offset}" for p in plans),
    )
    return plans
