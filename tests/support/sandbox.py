"""A throw-away topic, consumer group and raw schema, for tests and experiments.

Everything the ingestion touches is private to a sandbox: its own topic, its own
consumer group, and its own schema in PostgreSQL (database in ClickHouse) holding the
raw and dead-letter tables. Tests can then reset, break and count freely while the real
pipeline (and other people's tests) run against the same services. ``close`` drops it all.

Test support, not runtime: it lives under tests/ so that the Airflow image (plugins/)
does not ship it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from kafka_elt.ingest.connections import Connections
from kafka_elt.ingest.consumer import plan_partitions
from kafka_elt.ingest.ddl import apply_ddl
from kafka_elt.ingest.drain import PartitionResult, drain_partition
from kafka_elt.ingest.registry import TopicSpec, get_topic

# The registry entry whose kind, table name and budgets a sandbox copies, per kind.
_TEMPLATE_TOPIC = {"market_candle": "market_candle", "footprint": "web-logs-topic"}


@dataclass
class Sandbox:
    spec: TopicSpec
    group: str
    bootstrap: str
    connections: Connections = field(default_factory=Connections)

    @property
    def schema(self) -> str:
        return self.spec.raw_schema

    def produce(
        self,
        messages: list[tuple[bytes | None, bytes | None]] | list[dict],
        *,
        partition: int | None = None,
    ) -> list[tuple[int, int]]:
        """Produce messages synchronously; returns their (partition, offset) in order.

        A message is (key, value) or a dict with key, value and optionally headers,
        timestamp (epoch ms) and partition.
        """
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5, "enable.idempotence": True})
        delivered: list[tuple[int, int] | None] = [None] * len(messages)
        errors: list[str] = []

        def report(index):
            def callback(err, msg):
                if err is not None:
                    errors.append(str(err))
                else:
                    delivered[index] = (msg.partition(), msg.offset())

            return callback

        for index, message in enumerate(messages):
            m = message if isinstance(message, dict) else {"key": message[0], "value": message[1]}
            kwargs = {k: m[k] for k in ("headers", "timestamp") if m.get(k) is not None}
            target = m.get("partition", partition)
            if target is not None:
                kwargs["partition"] = target
            producer.produce(
                self.spec.topic, m.get("value"), m.get("key"), on_delivery=report(index), **kwargs
            )
        remaining = producer.flush(30)
        if remaining or errors:
            raise RuntimeError(f"produce to {self.spec.topic}: {remaining} undelivered, errors {errors[:3]}")
        return [d for d in delivered if d is not None]

    def drain(self, **options) -> list[PartitionResult]:
        """One run of the ingestion over every partition (sequentially): plan, then drain."""
        run_id = options.pop("dag_run_id", None) or f"sandbox__{uuid.uuid4().hex[:8]}"
        apply_ddl(self.spec, self.connections)
        plans = plan_partitions(self.spec, self.connections, group_id=self.group)
        return [
            drain_partition(
                self.spec,
                plan.partition,
                dag_run_id=run_id,
                end_offset=plan.end_offset,
                connections=self.connections,
                group_id=self.group,
                **options,
            )
            for plan in plans
        ]

    def committed(self) -> dict[int, int]:
        """The group's committed offset per partition (-1: none)."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group})
        try:
            partitions = consumer.list_topics(self.spec.topic, timeout=10).topics[self.spec.topic].partitions
            tps = [TopicPartition(self.spec.topic, p) for p in sorted(partitions)]
            return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
        finally:
            consumer.close()

    def reset_group(self, offset: int = 0) -> None:
        """Rewind the consumer group on every partition (like kafka-consumer-groups --reset-offsets)."""
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        tps = [TopicPartition(self.spec.topic, p, offset) for p in self.committed()]
        futures = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(self.group, tps)])
        for future in futures.values():
            future.result(30)

    def close(self) -> None:
        from confluent_kafka.admin import AdminClient

        pg = self.connections.postgres()
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {self.schema} cascade")
        pg.commit()
        pg.close()
        ch = self.connections.clickhouse()
        ch.command(f"drop database if exists {self.schema}")
        ch.close()
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for futures in (admin.delete_topics([self.spec.topic]), admin.delete_consumer_groups([self.group])):
            for future in futures.values():
                try:
                    future.result(30)
                except Exception as exc:
                    if "GROUP_ID_NOT_FOUND" not in str(exc):  # the group never committed
                        print(f"sandbox cleanup: {exc}")


def open_sandbox(
    kind: str,
    bootstrap: str,
    *,
    partitions: int = 3,
    connections: Connections | None = None,
    **overrides,
) -> Sandbox:
    """Create a private topic (``partitions``) and a spec pointing at a private schema."""
    from confluent_kafka.admin import AdminClient, NewTopic

    tag = f"{time.strftime('%H%M%S')}_{uuid.uuid4().hex[:6]}"
    template = get_topic(_TEMPLATE_TOPIC[kind])
    spec = template.with_overrides(
        topic=f"it_{kind}_{tag}",
        raw_schema=f"it_{tag}",
        partitions=partitions,
        consumer_group=None,
        **overrides,
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(spec.topic, num_partitions=partitions, replication_factor=1)])[
        spec.topic
    ].result(30)
    return Sandbox(
        spec=spec, group=f"it-{tag}", bootstrap=bootstrap, connections=connections or Connections()
    )
