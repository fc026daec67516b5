"""Create the topics of the topic registry (include/topics.yaml) on the compose broker.

Run by the kafka-init service on every `docker compose up`, as the local stack does after
starting Kafka: the registry is the one list of topics, so a topic added there is created
here too. The broker does not auto-create topics. An existing topic is kept, but one with
fewer partitions than the registry asks for stops the run, since consumers would then
silently get less parallelism than planned.
"""

from __future__ import annotations

import os
import sys

from confluent_kafka.admin import AdminClient, NewTopic

from kafka_elt.ingest.registry import load_registry


def main() -> int:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    wanted = {spec.topic: spec.partitions for spec in load_registry()}
    admin = AdminClient({"bootstrap.servers": bootstrap})

    existing = admin.list_topics(timeout=30).topics
    new = [
        NewTopic(topic, num_partitions=partitions, replication_factor=1)
        for topic, partitions in wanted.items()
        if topic not in existing
    ]
    if new:
        for topic, future in admin.create_topics(new, operation_timeout=30).items():
            future.result(timeout=60)
            print(f"kafka-init: created topic {topic} ({wanted[topic]} partitions)", flush=True)

    metadata = admin.list_topics(timeout=30).topics
    failed = False
    for topic, partitions in sorted(wanted.items()):
        have = len(metadata[topic].partitions) if topic in metadata else 0
        if have < partitions:
            print(
                f"kafka-init: topic {topic} has {have} partitions, the registry asks for {partitions}. "
                f"Raise it with: docker compose exec kafka /opt/kafka/bin/kafka-topics.sh "
                f"--bootstrap-server {bootstrap} --alter --topic {topic} --partitions {partitions}",
                file=sys.stderr,
            )
            failed = True
        else:
            print(f"kafka-init: topic {topic} ready ({have} partitions)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
