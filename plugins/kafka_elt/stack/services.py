"""The stack's services, by name, in start order (stopped in reverse)."""

from __future__ import annotations

from kafka_elt.stack import airflow, clickhouse, kafka, postgres
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.supervision import SupervisedService

ORDER = ("postgres", "kafka", "clickhouse", "airflow")


def all_services(cfg: StackConfig) -> dict[str, list[SupervisedService]]:
    return {
        "postgres": [postgres.service(cfg)],
        "kafka": [kafka.service(cfg)],
        "clickhouse": [clickhouse.service(cfg)],
        "airflow": airflow.services(cfg),
    }


def flat(cfg: StackConfig) -> list[SupervisedService]:
    return [svc for name in ORDER for svc in all_services(cfg)[name]]
