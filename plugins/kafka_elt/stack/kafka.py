"""Apache Kafka 4.x broker in KRaft combined mode (broker + controller), one node.

The broker's jars come from Maven Central through ``maven/kafka/pom.xml``; storage is
formatted once with a generated cluster id, then the broker starts on the machine's JDK.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import time
from typing import Any

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.paths import log_file, pid_file, state
from kafka_elt.stack.process import Service, StackError, wait_until
from kafka_elt.stack.supervision import SupervisedService, supervised

_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka
        level: INFO
      - name: org.apache.kafka
        level: WARN
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
"""


def libs_dir(cfg: StackConfig):
    return state(cfg, "lib", "kafka")


def install(cfg: StackConfig) -> None:
    """Fetch the broker jars from Maven Central unless the pom is unchanged since."""
    pom = cfg.root / "maven" / "kafka" / "pom.xml"
    libs = libs_dir(cfg)
    stamp = libs / ".pom"
    if stamp.exists() and stamp.read_text() == pom.read_text():
        return
    if shutil.which("mvn") is None:
        raise StackError("mvn not found: run `make install` (it installs maven with apt-get)")
    print(f"kafka: fetching broker jars from Maven Central into {libs} ...", flush=True)
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={libs}"],
        check=True,
    )
    stamp.write_text(pom.read_text())


def _classpath(cfg: StackConfig) -> str:
    return f"{libs_dir(cfg)}/*"


def _write_config(cfg: StackConfig):
    home = state(cfg, "kafka")
    home.mkdir(parents=True, exist_ok=True)
    host, port, cport = cfg.host, cfg.port("KAFKA"), cfg.port("KAFKA_CONTROLLER")
    props = home / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={host}:{cport}",
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={home / 'data'}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                # Topics are created explicitly, with the partition count the pipeline expects.
                "auto.create.topics.enable=false",
                "",
            ]
        )
    )
    (home / "log4j2.yaml").write_text(_LOG4J2)
    return home, props


def service(cfg: StackConfig) -> SupervisedService:
    home = state(cfg, "kafka")
    heap = cfg["KAFKA_HEAP"]
    spec = Service(
        name="kafka",
        command=[
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            # One small broker on a shared 2-core machine: the serial collector has no
            # concurrent GC threads waking up while the broker idles.
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={home / 'log4j2.yaml'}",
            "-cp",
            _classpath(cfg),
            "kafka.Kafka",
            str(home / "server.properties"),
        ],
        log_file=log_file(cfg, "kafka"),
        pid_file=pid_file(cfg, "kafka"),
        cwd=home,
        autorestart="true",  # the broker never exits on its own purpose
        start_seconds=10,  # the JVM fails on a bad config or a taken port within ~5 s
    )
    return supervised(cfg, spec)


def start(cfg: StackConfig) -> SupervisedService:
    install(cfg)
    home, props = _write_config(cfg)
    if not (home / "data" / "meta.properties").exists():
        cluster_id = subprocess.run(
            ["java", "-cp", _classpath(cfg), "kafka.tools.StorageTool", "random-uuid"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        print(f"kafka: formatting KRaft storage (cluster id {cluster_id})", flush=True)
        subprocess.run(
            [
                "java",
                "-cp",
                _classpath(cfg),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--standalone",
                "--ignore-formatted",
            ],
            check=True,
            capture_output=True,
        )
    svc = service(cfg)
    svc.start()
    took = wait_until(lambda: _broker_ready(cfg), what="the Kafka broker", timeout=120, service=svc)
    took += wait_for_coordinators(cfg)
    print(f"kafka: ready on {cfg.kafka_bootstrap} ({took:.1f}s)", flush=True)
    return svc


def _quiet_logger() -> logging.Logger:
    logger = logging.getLogger("kafka_elt.stack.kafka.readiness")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def wait_for_coordinators(cfg: StackConfig, timeout: float = 60) -> float:
    """Wait until the broker hands out producer ids and has a group coordinator.

    Until the controller has given a new (or restarted) broker a block of producer ids,
    InitProducerId answers COORDINATOR_LOAD_IN_PROGRESS, and the first idempotent producer
    prints "Failed to acquire idempotence PID ... retrying". Likewise the first group
    lookup creates ``__consumer_offsets`` and answers "coordinator not available" meanwhile.
    One idempotent probe producer (whose log is silenced) and one description of a group
    that never exists absorb both here; no topic, message or group is left behind.
    (``list_consumer_group_offsets`` for that lookup crashed the process on a fresh broker:
    segmentation fault in confluent-kafka 2.16.1.)
    """
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    started = time.monotonic()
    eos: dict = {}
    producer = Producer(
        {
            "bootstrap.servers": cfg.kafka_bootstrap,
            "enable.idempotence": True,
            "statistics.interval.ms": 100,
            "stats_cb": lambda stats: eos.update(json.loads(stats).get("eos", {})),
            "logger": _quiet_logger(),
        }
    )
    while eos.get("idemp_state") != "Assigned":
        if time.monotonic() - started > timeout:
            raise StackError(
                f"the Kafka broker gave no producer id within {timeout:.0f}s (idempotence state "
                f"{eos.get('idemp_state')!r}); see {log_file(cfg, 'kafka')}"
            )
        producer.poll(0.1)
    del producer
    admin_conf: dict[str, Any] = {"bootstrap.servers": cfg.kafka_bootstrap, "logger": _quiet_logger()}
    admin = AdminClient(admin_conf)
    probe = "kafka-elt-stack-readiness"
    while True:
        try:
            admin.describe_consumer_groups([probe])[probe].result(timeout=10)
            return time.monotonic() - started
        except KafkaException as exc:  # NOT_COORDINATOR while __consumer_offsets is created
            if time.monotonic() - started > timeout:
                raise StackError(
                    f"the Kafka broker's group coordinator is not ready after {timeout:.0f}s: {exc}; "
                    f"see {log_file(cfg, 'kafka')}"
                ) from exc
            time.sleep(0.5)


def _broker_ready(cfg: StackConfig) -> bool:
    with socket.create_connection((cfg.host, cfg.port("KAFKA")), timeout=1):
        pass
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap})
    metadata = admin.list_topics(timeout=2)
    return bool(metadata.brokers)


def create_topics(cfg: StackConfig, topics: dict[str, int]) -> list[str]:
    """Create missing topics (name -> partitions). Returns the names it created."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    new = [
        NewTopic(name, num_partitions=n, replication_factor=1)
        for name, n in topics.items()
        if name not in existing
    ]
    if not new:
        return []
    for name, future in admin.create_topics(new).items():
        future.result(timeout=30)
        print(f"kafka: created topic {name} ({topics[name]} partitions)", flush=True)
    return [t.topic for t in new]
