"""The two profiles of the local stack: light (the default) and distributed (three Kafka
nodes, Redis, Celery workers), as settings, supervised programs and config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafka_elt.stack import airflow, kafka, redis_server, supervision
from kafka_elt.stack.__main__ import check_profile
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import StackError
from kafka_elt.stack.services import flat

REPO = Path(__file__).resolve().parents[2]


def load(root: Path, monkeypatch, **env: str) -> StackConfig:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return StackConfig.load(root)


def test_the_default_profile_is_the_light_one(root, monkeypatch):
    cfg = load(root, monkeypatch)
    assert not cfg.distributed
    assert cfg.kafka_bootstrap == "127.0.0.1:9092"
    assert cfg.kafka_replication == (1, 1)
    env = cfg.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW__CELERY__BROKER_URL" not in env
    assert [svc.name for svc in flat(cfg)] == [
        "postgres",
        "kafka",
        "clickhouse",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    ]


def test_an_unknown_profile_is_refused_with_the_choices(root, monkeypatch):
    with pytest.raises(ValueError, match="light, distributed"):
        load(root, monkeypatch, STACK_PROFILE="big")


def test_distributed_runs_three_brokers_redis_and_two_workers_on_overridable_ports(root, monkeypatch):
    cfg = load(root, monkeypatch, STACK_PROFILE="distributed", KAFKA_PORT="29092", KAFKA_3_PORT="29095")
    assert [(n.name, n.node_id, n.port) for n in cfg.kafka_nodes] == [
        ("kafka", 1, 29092),
        ("kafka-2", 2, 9094),
        ("kafka-3", 3, 29095),
    ]
    assert cfg.kafka_bootstrap == "127.0.0.1:29092,127.0.0.1:9094,127.0.0.1:29095"
    names = [svc.name for svc in flat(cfg)]
    assert names[:6] == ["postgres", "kafka", "kafka-2", "kafka-3", "clickhouse", "redis"]
    assert names[-2:] == ["airflow-worker-1", "airflow-worker-2"]
    ports = (
        [n.port for n in cfg.kafka_nodes] + [n.controller_port for n in cfg.kafka_nodes] + [cfg.port("REDIS")]
    )
    assert len(set(ports)) == len(ports)


def test_distributed_airflow_uses_celery_on_redis_with_results_in_postgres(root, monkeypatch):
    cfg = load(root, monkeypatch, STACK_PROFILE="distributed")
    env = cfg.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://default:{cfg['REDIS_PASSWORD']}@127.0.0.1:6380/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@127.0.0.1:5433/airflow")
    assert int(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]) <= 120
    kafka_conn = json.loads(env["AIRFLOW_CONN_KAFKA_DEFAULT"])
    assert kafka_conn["extra"]["bootstrap.servers"] == cfg.kafka_bootstrap
    workers = [svc for svc in airflow.services(cfg) if svc.name.startswith("airflow-worker-")]
    hostnames = set()
    for svc in workers:
        args = svc.command[1:]
        assert args[:2] == ["celery", "worker"] and "--skip-serve-logs" in args
        assert args[args.index("--concurrency") + 1] == cfg["AIRFLOW_WORKER_CONCURRENCY"]
        hostnames.add(args[args.index("--celery-hostname") + 1])
        assert ("Redis (the Celery broker)", "127.0.0.1", cfg.port("REDIS")) in svc.requires
    assert len(hostnames) == len(workers) == 2


def test_the_redis_password_is_generated_and_kept_out_of_commands(root, monkeypatch):
    cfg = load(root, monkeypatch, STACK_PROFILE="distributed")
    assert len(cfg["REDIS_PASSWORD"]) >= 24
    assert f"REDIS_PASSWORD={cfg['REDIS_PASSWORD']}" in (cfg.state_dir / "secrets.env").read_text()
    redis_server.write_config(cfg)
    conf = cfg.state_dir / "redis" / "redis.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    text = conf.read_text()
    assert "bind 127.0.0.1\n" in text and "port 6380\n" in text and "protected-mode yes" in text
    assert f'requirepass "{cfg["REDIS_PASSWORD"]}"' in text
    supervision.config_path(cfg).parent.mkdir(parents=True, exist_ok=True)
    rendered = supervision.render_config(cfg, flat(cfg))
    assert cfg["REDIS_PASSWORD"] not in rendered
    assert all(cfg["REDIS_PASSWORD"] not in " ".join(svc.command) for svc in flat(cfg))


def test_each_kafka_node_is_a_voter_of_one_quorum_with_replicated_internal_topics(root, monkeypatch):
    cfg = load(root, monkeypatch, STACK_PROFILE="distributed")
    voters = "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9096,3@127.0.0.1:9097"
    for node in cfg.kafka_nodes:
        _, props = kafka._write_config(cfg, node)
        lines = props.read_text().splitlines()
        assert voters in lines and f"node.id={node.node_id}" in lines
        assert (
            f"listeners=PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
            in lines
        )
        for setting in (
            "default.replication.factor=3",
            "offsets.topic.replication.factor=3",
            "transaction.state.log.min.isr=2",
            "unclean.leader.election.enable=false",
        ):
            assert setting in lines
    assert cfg.kafka_replication == (3, 2)


def test_a_stack_dir_keeps_the_profile_it_was_created_with(root, monkeypatch):
    check_profile(load(root, monkeypatch))
    with pytest.raises(StackError, match="own STACK_DIR"):
        check_profile(load(root, monkeypatch, STACK_PROFILE="distributed"))
