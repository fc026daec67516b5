"""Apache Kafka 4.x in KRaft combined mode (each node a broker and a controller).

The light profile runs one node; the distributed profile (STACK_PROFILE=distributed)
three, ``kafka``, ``kafka-2`` and ``kafka-3``, each a voter of one static controller
quorum (``controller.quorum.voters``): three voters survive the loss of any one, and the
quorum fails with the same processes as the data, as in docker-compose.distributed.yaml.
Separate controller processes (Kafka's advice for critical clusters) would cost three more
JVMs on a 2-core machine and add no failure this stack can test. The pipeline's topics get
replication factor 3 and ``min.insync.replicas=2``; with the producers' ``acks=all`` an
acknowledged message is on two brokers, and one broker may be down without stopping writes.

The broker's jars come from Maven Central through ``maven/kafka/pom.xml``; storage is
formatted once with a generated cluster id (one id for all nodes), then each node starts
on the machine's JDK.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import time
from functools import partial
from typing import Any

from kafka_elt.stack.config import KafkaNode, StackConfig
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


def _home(cfg: StackConfig, node: KafkaNode):
    return state(cfg, node.name)


def _replicated_settings(cfg: StackConfig) -> list[str]:
    """Internal topics (committed offsets among them) as replicated as the data. The
    broker-wide min.insync.replicas stays 1: a single-replica topic a test or benchmark
    creates for itself still takes acks=all writes; the pipeline's topics set 2 themselves."""
    rf, isr = cfg.kafka_replication
    return [
        f"default.replication.factor={rf}",
        f"offsets.topic.replication.factor={rf}",
        f"transaction.state.log.replication.factor={rf}",
        f"transaction.state.log.min.isr={isr}",
        f"share.coordinator.state.topic.replication.factor={rf}",
        f"share.coordinator.state.topic.min.isr={isr}",
        # A replica that fell behind never becomes leader: it would drop acknowledged writes.
        "unclean.leader.election.enable=false",
    ]


def _quorum(cfg: StackConfig, node: KafkaNode) -> str:
    if not cfg.distributed:
        return f"controller.quorum.bootstrap.servers={cfg.host}:{node.controller_port}"
    voters = ",".join(f"{n.node_id}@{cfg.host}:{n.controller_port}" for n in cfg.kafka_nodes)
    return f"controller.quorum.voters={voters}"


def _write_config(cfg: StackConfig, node: KafkaNode):
    home = _home(cfg, node)
    home.mkdir(parents=True, exist_ok=True)
    host, port, cport = cfg.host, node.port, node.controller_port
    props = home / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={node.node_id}",
                _quorum(cfg, node),
                f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
                f"advertised.listeners=PLAINTEXT://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={home / 'data'}",
                "num.partitions=3",
                *_replicated_settings(cfg),
                "group.initial.rebalance.delay.ms=0",
                # Topics are created explicitly, with the partition count the pipeline expects.
                "auto.create.topics.enable=false",
                "",
            ]
        )
    )
    (home / "log4j2.yaml").write_text(_LOG4J2)
    return home, props


def service(cfg: StackConfig, node: KafkaNode | None = None) -> SupervisedService:
    node = node or cfg.kafka_nodes[0]
    home = _home(cfg, node)
    heap = cfg["KAFKA_HEAP"]
    spec = Service(
        name=node.name,
        command=[
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            # Small brokers on a shared 2-core machine: the serial collector has no
            # concurrent GC threads waking up while a broker idles.
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={home / 'log4j2.yaml'}",
            "-cp",
            _classpath(cfg),
            "kafka.Kafka",
            str(home / "server.properties"),
        ],
        log_file=log_file(cfg, node.name),
        pid_file=pid_file(cfg, node.name),
        cwd=home,
        autorestart="true",  # the broker never exits on its own purpose
        start_seconds=10,  # the JVM fails on a bad config or a taken port within ~5 s
    )
    return supervised(cfg, spec)


def services(cfg: StackConfig) -> list[SupervisedService]:
    return [service(cfg, node) for node in cfg.kafka_nodes]


def _cluster_id(cfg: StackConfig) -> str:
    """One id for every node of the cluster, generated once."""
    path = state(cfg, "kafka-cluster-id")
    if path.exists():
        return path.read_text().strip()
    cluster_id = subprocess.run(
        ["java", "-cp", _classpath(cfg), "kafka.tools.StorageTool", "random-uuid"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cluster_id + "\n")
    return cluster_id


def _format(cfg: StackConfig, node: KafkaNode, props) -> None:
    if (_home(cfg, node) / "data" / "meta.properties").exists():
        return
    cluster_id = _cluster_id(cfg)
    print(f"{node.name}: formatting KRaft storage (cluster id {cluster_id})", flush=True)
    # One node: a dynamic quorum of itself (--standalone). Three: the static voters in
    # server.properties, which the format takes from there.
    quorum = [] if cfg.distributed else ["--standalone"]
    tool = ["java", "-cp", _classpath(cfg), "kafka.tools.StorageTool"]
    subprocess.run(
        [*tool, "format", "-t", cluster_id, "-c", str(props), *quorum, "--ignore-formatted"],
        check=True,
        capture_output=True,
    )


def start(cfg: StackConfig) -> list[SupervisedService]:
    """Start every node before waiting for any: a node of three is not ready until a
    majority of the quorum runs."""
    install(cfg)
    started = []
    for node in cfg.kafka_nodes:
        _, props = _write_config(cfg, node)
        _format(cfg, node, props)
        svc = service(cfg, node)
        svc.start()
        started.append((node, svc))
    took = 0.0
    for node, svc in started:
        took += wait_until(
            partial(_broker_ready, cfg, node),
            what=f"the Kafka broker {node.name}",
            timeout=120,
            service=svc,
        )
    took += wait_for_coordinators(cfg)
    print(f"kafka: ready on {cfg.kafka_bootstrap} ({took:.1f}s)", flush=True)
    return [svc for _, svc in started]


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


def _broker_ready(cfg: StackConfig, node: KafkaNode) -> bool:
    """The node answers, and knows every broker of the cluster (is registered with it)."""
    with socket.create_connection((cfg.host, node.port), timeout=1):
        pass
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": f"{cfg.host}:{node.port}"})
    metadata = admin.list_topics(timeout=2)
    return len(metadata.brokers) == len(cfg.kafka_nodes)


def create_topics(cfg: StackConfig, topics: dict[str, int]) -> list[str]:
    """Create missing topics (name -> partitions). Returns the names it created."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    rf, isr = cfg.kafka_replication
    new = [
        NewTopic(name, num_partitions=n, replication_factor=rf, config={"min.insync.replicas": str(isr)})
        for name, n in topics.items()
        if name not in existing
    ]
    if not new:
        return []
    for name, future in admin.create_topics(new).items():
        future.result(timeout=30)
        print(
            f"kafka: created topic {name} ({topics[name]} partitions, replication factor {rf}, "
            f"min.insync.replicas {isr})",
            flush=True,
        )
    return [t.topic for t in new]
