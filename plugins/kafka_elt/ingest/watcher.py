"""Event-driven ingestion: a trigger that fires when a topic holds messages the pipeline
has not loaded yet, so that ``ingest_<table>`` starts within seconds of a message
instead of on a clock.

``KafkaLagTrigger`` runs in Airflow's triggerer, as the ``AssetWatcher`` of the topic's
Asset (``kafka_elt.assets.topic_asset``). Every ``poll_interval`` seconds it compares each
partition's high watermark with the offset the ingestion consumer group has committed:
the lag, i.e. messages that are in Kafka but not yet in both databases. It never
subscribes, consumes or commits, so it cannot move the group's offsets (the provider's
``KafkaMessageQueueTrigger`` consumes messages to decide, which in the ingestion group
would skip them and in another group would still need its own offsets; see the README).

When it fires (an Asset event, which queues one ingestion run):
- lag appears after a quiet spell: it waits ``debounce`` seconds first, so a burst lands
  in one run rather than one run per message;
- messages arrived after the last event, and the group's committed offsets have moved
  since (the run that event queued is loading): at once, so a message arriving during
  a run is taken by the next run, not by the safety clock;
- lag remains and nothing has moved for ``refire_after`` seconds (a run failed, or the
  event was consumed by a run that had planned before the message arrived): again.

Between those it stays silent, so a backlog does not become a storm of Asset events; the
scheduler folds events that arrive while a run is active into one queued run. The state
lives in Kafka (watermarks and committed offsets): a restarted triggerer starts over,
sees the lag and fires, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

log = logging.getLogger(__name__)

# Partitions are listed again this often, so that a topic that gains partitions is watched
# in full without a triggerer restart.
METADATA_REFRESH_S = 60.0


@dataclass(frozen=True)
class LagSnapshot:
    """Lag of one topic for one consumer group, per partition."""

    high: dict[int, int]  # partition -> high watermark
    committed: dict[int, int]  # partition -> next offset the group reads (low watermark if none)

    @property
    def lag(self) -> int:
        return sum(max(self.high[p] - self.committed.get(p, 0), 0) for p in self.high)

    def as_extra(self) -> dict[str, Any]:
        return {
            "lag": self.lag,
            "partitions": {
                str(p): {"committed": self.committed.get(p), "high": h} for p, h in self.high.items()
            },
        }


class LagProbe:
    """Reads a topic's watermarks and a group's committed offsets, without joining the group.

    Blocking (librdkafka); the trigger calls it in a worker thread.
    """

    def __init__(self, topic: str, group_id: str | None, kafka_conn_id: str) -> None:
        self.topic = topic
        self.group_id = group_id
        self.kafka_conn_id = kafka_conn_id
        self._consumer = None
        self._partitions: list[int] = []
        self._listed_at = float("-inf")

    def _client(self):
        if self._consumer is None:
            from kafka_elt.ingest.connections import Connections

            # The pipeline's own consumer config (auto-commit forced off), in the ingestion
            # group: committed() asks the group coordinator for the group's offsets; a
            # consumer that never subscribes never joins the group nor commits.
            self._consumer = Connections(kafka_conn_id=self.kafka_conn_id).consumer(self.group_id)
        return self._consumer

    def snapshot(self) -> LagSnapshot:
        from kafka_elt.ingest.consumer import list_partition_ids, read_plans

        consumer = self._client()
        if time.monotonic() - self._listed_at > METADATA_REFRESH_S or not self._partitions:
            self._partitions = list_partition_ids(consumer, self.topic)
            self._listed_at = time.monotonic()
        # The drain's own view of the partitions (it starts at start_offset, no
        # committed offset meaning the low watermark), transient Kafka errors retried.
        plans = read_plans(consumer, self.topic, self._partitions)
        return LagSnapshot(
            high={p.partition: p.end_offset for p in plans},
            committed={p.partition: p.start_offset for p in plans},
        )

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            finally:
                self._consumer = None


class LagDecision:
    """When to fire, from successive snapshots (pure logic, unit-tested on its own).

    An event queues a run that starts after the event, so that run drains at least up to
    the high watermarks seen when the event fired. Firing again is only needed for
    messages past those watermarks, and only once the queued run has begun to commit
    (before that, another event would fold into the same queued run anyway).
    """

    def __init__(self, debounce: float, refire_after: float) -> None:
        self.debounce = debounce
        self.refire_after = refire_after
        self.lag_since: float | None = None  # when lag appeared after a quiet spell
        self.fired_at: float | None = None
        self.fired_high: dict[int, int] = {}
        self.fired_committed: dict[int, int] = {}

    def observe(self, snap: LagSnapshot, now: float) -> str | None:
        """The reason to fire now, or None."""
        if snap.lag == 0:
            # Everything loaded: the next message starts a new debounce window.
            self.lag_since = None
            self.fired_at = None
            return None
        if self.fired_at is None:
            if self.lag_since is None:
                self.lag_since = now
            if now - self.lag_since >= self.debounce:
                return "new messages"
            return None
        newer = any(high > self.fired_high.get(p, 0) for p, high in snap.high.items())
        if newer and snap.committed != self.fired_committed:
            return "more messages after a run loaded"
        if now - self.fired_at >= self.refire_after:
            return "lag unchanged since the last event"
        return None

    def fired(self, snap: LagSnapshot, now: float) -> None:
        self.fired_at = now
        self.fired_high = dict(snap.high)
        self.fired_committed = dict(snap.committed)


class KafkaLagTrigger(BaseEventTrigger):
    """Fires when ``topic`` has messages that consumer group ``group_id`` has not committed.

    :param topic: the Kafka topic to watch.
    :param group_id: the ingestion DAG's consumer group, whose committed offsets mark what is
        loaded (None: the ``group.id`` of the Kafka connection, as the drain uses).
    :param kafka_conn_id: Airflow connection of the broker.
    :param poll_interval: seconds between two lag checks.
    :param debounce: seconds to gather messages after lag appears before firing.
    :param refire_after: seconds after which unchanged lag fires again.
    """

    def __init__(
        self,
        topic: str,
        group_id: str | None,
        kafka_conn_id: str = "kafka_default",
        poll_interval: float = 1.0,
        debounce: float = 1.0,
        refire_after: float = 120.0,
    ) -> None:
        super().__init__()
        self.topic = topic
        self.group_id = group_id
        self.kafka_conn_id = kafka_conn_id
        self.poll_interval = poll_interval
        self.debounce = debounce
        self.refire_after = refire_after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "topic": self.topic,
                "group_id": self.group_id,
                "kafka_conn_id": self.kafka_conn_id,
                "poll_interval": self.poll_interval,
                "debounce": self.debounce,
                "refire_after": self.refire_after,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        probe = LagProbe(self.topic, self.group_id, self.kafka_conn_id)
        decision = LagDecision(self.debounce, self.refire_after)
        failures = 0
        self.log.info(
            "watching the lag of consumer group %r on topic %r every %.1fs (debounce %.1fs)",
            self.group_id or "<group.id of the connection>", self.topic, self.poll_interval, self.debounce,
        )  # fmt: skip
        try:
            while True:
                try:
                    snap = await asyncio.to_thread(probe.snapshot)
                    failures = 0
                except Exception as exc:
                    # The broker is down or restarting: keep watching. The safety clock of
                    # the DAG's schedule still runs ingestion, which reports the error.
                    failures += 1
                    level = logging.WARNING if failures in (1, 10) or failures % 60 == 0 else logging.DEBUG
                    self.log.log(
                        level,
                        "cannot read the lag of %r (attempt %d): %s; retrying",
                        self.topic,
                        failures,
                        exc,
                    )
                    await asyncio.to_thread(probe.close)
                    await asyncio.sleep(min(self.poll_interval * 2 ** min(failures, 5), 30.0))
                    continue
                now = time.monotonic()
                reason = decision.observe(snap, now)
                if reason is not None:
                    decision.fired(snap, now)
                    self.log.info("topic %r: lag %d (%s): firing", self.topic, snap.lag, reason)
                    yield TriggerEvent({"topic": self.topic, "reason": reason, **snap.as_extra()})
                await asyncio.sleep(self.poll_interval)
        finally:
            await asyncio.to_thread(probe.close)
