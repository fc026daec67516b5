"""Create the topics of the topic registry (include/topics.yaml) on the compose broker(s).

Run by the kafka-init service on every `docker compose up`, as the local stack does after
starting Kafka: the registry is the one list of topics, so a topic added there is created
here too. The broker does not auto-create topics. An existing topic is kept, but one with
fewer partitions than the registry asks for stops the run, since consumers would then
silently get less parallelism than planned; so does one with fewer replicas than
KAFKA_REPLICATION_FACTOR (default 1; the three-broker layout sets 3 and
KAFKA_MIN_INSYNC_REPLICAS=2, so that an acks=all write survives the loss of a broker).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient, NewTopic

from kafka_elt.ingest.registry import load_registry


@dataclass(frozen=True)
class Durability:
    replication_factor: int = 1
    min_insync_replicas: int | None = None  # None: the broker's default

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Durability:
        min_isr = env.get("KAFKA_MIN_INSYNC_REPLICAS")
        return cls(int(env.get("KAFKA_REPLICATION_FACTOR") or 1), int(min_isr) if min_isr else None)

    def topic_config(self) -> dict[str, str]:
        if self.min_insync_replicas is None:
            return {}
        return {"min.insync.replicas": str(self.min_insync_replicas)}


def new_topics(wanted: Mapping[str, int], existing: set[str], durability: Durability) -> list[NewTopic]:
    return [
        NewTopic(
            topic,
            num_partitions=partitions,
            replication_factor=durability.replication_factor,
            config=durability.topic_config(),
        )
        for topic, partitions in wanted.items()
        if topic not in existing
    ]


def topic_problems(
    topic: str, wanted_partitions: int, replicas: list[int], durability: Durability, bootstrap: str
) -> list[str]:
    """What is wrong with an existing topic: ``replicas`` holds each partition's replica count."""
    problems = []
    tool = f"docker compose exec kafka /opt/kafka/bin/kafka-topics.sh --bootstrap-server {bootstrap}"
    if len(replicas) < wanted_partitions:
        problems.append(
            f"topic {topic} has {len(replicas)} partitions, the registry asks for {wanted_partitions}. "
            f"Raise it with: {tool} --alter --topic {topic} --partitions {wanted_partitions}"
        )
    if replicas and min(replicas) < durability.replication_factor:
        problems.append(
            f"topic {topic} has partitions with {min(replicas)} replica(s), this layout asks for "
            f"{durability.replication_factor}. It was made for another layout (the compose projects "
            "keep separate volumes): add replicas with kafka-reassign-partitions.sh, or delete the "
            f"topic ({tool} --delete --topic {topic}) and run kafka-init again"
        )
    return problems


def main() -> int:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    durability = Durability.from_env(os.environ)
    wanted = {spec.topic: spec.partitions for spec in load_registry()}
    admin = AdminClient({"bootstrap.servers": bootstrap})

    new = new_topics(wanted, set(admin.list_topics(timeout=30).topics), durability)
    if new:
        for topic, future in admin.create_topics(new, operation_timeout=30).items():
            future.result(timeout=60)
            print(
                f"kafka-init: created topic {topic} ({wanted[topic]} partitions, "
                f"{durability.replication_factor} replica(s))",
                flush=True,
            )

    metadata = admin.list_topics(timeout=30).topics
    problems = []
    for topic, partitions in sorted(wanted.items()):
        replicas = [len(p.replicas) for p in metadata[topic].partitions.values()] if topic in metadata else []
        found = topic_problems(topic, partitions, replicas, durability, bootstrap)
        problems += found
        if not found:
            print(f"kafka-init: topic {topic} ready ({len(replicas)} partitions)", flush=True)
    for problem in problems:
        print(f"kafka-init: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
