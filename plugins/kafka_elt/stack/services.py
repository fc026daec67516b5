"""The stack's services, by name, in start order (stopped in reverse)."""

from __future__ import annotations

from kafka_elt.stack import airflow, clickhouse, kafka, postgres, redis_server
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.supervision import SupervisedService

# "redis" has a process in the distributed profile only (the Celery broker).
ORDER = ("postgres", "kafka", "clickhouse", "redis", "airflow")


def all_services(cfg: StackConfig) -> dict[str, list[SupervisedService]]:
    return {
        "postgres": [postgres.service(cfg)],
        "kafka": kafka.services(cfg),
        "clickhouse": [clickhouse.service(cfg)],
        "redis": [redis_server.service(cfg)] if cfg.distributed else [],
        "airflow": airflow.services(cfg),
    }


def flat(cfg: StackConfig) -> list[SupervisedService]:
    return [svc for name in ORDER for svc in all_services(cfg)[name]]
