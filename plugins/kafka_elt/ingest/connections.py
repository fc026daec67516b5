"""Clients for Kafka, PostgreSQL and ClickHouse, made from Airflow connections.

Credentials only ever come from Airflow connections (``AIRFLOW_CONN_*`` env vars or a
secrets backend), through the providers' hooks; outside a task (benchmark, tests) the
same env vars work, as Airflow's hooks read them directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kafka_elt.ingest.errors import ConnectionFailed
from kafka_elt.ingest.kafka_log import KafkaClientLog
from kafka_elt.settings import CLICKHOUSE_CONN_ID, KAFKA_CONN_ID, POSTGRES_CONN_ID

log = logging.getLogger(__name__)

_FALSE = (False, "false", "False", "FALSE", 0, "0")


def _consumer_hook_class():
    from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook

    class PipelineConsumerHook(KafkaConsumerHook):
        """KafkaConsumerHook whose consumer the pipeline steers partition by partition.

        ``_get_client`` is where the provider's own KafkaConsumerHook turns the
        connection's config into a Consumer; overriding it is how we adjust that config
        without copying the provider's callback and OAuth handling.
        """

        def __init__(self, kafka_config_id: str, group_id: str | None, client_log: KafkaClientLog) -> None:
            super().__init__(topics=[], kafka_config_id=kafka_config_id)
            self.group_id = group_id
            self.client_log = client_log

        def _get_client(self, config: dict[str, Any]):
            config = dict(config)
            if config.get("enable.auto.commit", True) not in _FALSE:
                # apache/airflow#34213: with auto-commit librdkafka commits what was
                # merely read, and a failed run loses it. Never run that way.
                log.warning(
                    "Kafka connection %r has enable.auto.commit=%r; overriding it to false: this "
                    "pipeline commits offsets only after both databases hold the batch. "
                    "Set it to false in the connection's extra to silence this warning.",
                    self.kafka_config_id,
                    config.get("enable.auto.commit", "<unset, librdkafka default true>"),
                )
            config["enable.auto.commit"] = False
            config["enable.auto.offset.store"] = False
            # Tells the drain that it has reached the end of the partition, even when the
            # last offsets are transaction markers that no message will ever carry.
            config["enable.partition.eof"] = True
            # A drain reads a partition from end to end: bigger fetches mean fewer round
            # trips for the broker and the client (the connection may still set its own).
            # But what librdkafka holds grows with them too: measured on one drain, 8 MB /
            # 32 MB fetches cost ~120 MB of RSS before the first message was handed over,
            # 4 MB / 16 MB ~60 MB at the same read rate (2 MB / 8 MB made it wait on fetches).
            config.setdefault("max.partition.fetch.bytes", 4 * 1024 * 1024)
            config.setdefault("fetch.max.bytes", 16 * 1024 * 1024)
            # Bounds what librdkafka prefetches per partition (default 64 MB), i.e. memory.
            config.setdefault("queued.max.messages.kbytes", 16 * 1024)
            # librdkafka's own output through the pipeline's log: transient broker trouble
            # as grouped warnings, not a flood of stderr lines Airflow shows as errors. A
            # connection's own error_cb (an allow-listed dotted path) is kept.
            config["logger"] = self.client_log
            if config.get("error_cb") is None:
                config["error_cb"] = self.client_log.error
            if self.group_id:
                config["group.id"] = self.group_id
            if not config.get("group.id"):
                raise ConnectionFailed(
                    f"Kafka connection {self.kafka_config_id!r} has no group.id in its extra and none "
                    "was given in the topic registry (consumer_group); offsets cannot be committed"
                )
            return super()._get_client(config)

    return PipelineConsumerHook


@dataclass(frozen=True)
class Connections:
    """Airflow connection ids of the three services, and factories for their clients."""

    kafka_conn_id: str = KAFKA_CONN_ID
    postgres_conn_id: str = POSTGRES_CONN_ID
    clickhouse_conn_id: str = CLICKHOUSE_CONN_ID

    def consumer(self, group_id: str | None = None, client_log: KafkaClientLog | None = None):
        """A confluent_kafka Consumer (auto-commit off), not subscribed: the caller assigns.

        ``client_log`` receives librdkafka's log lines and errors (kafka_log); pass one to
        name the client in them and to quote its connection trouble when giving up.
        """
        client_log = client_log or KafkaClientLog(f"{self.kafka_conn_id}/{group_id or 'default group'}")
        hook = _consumer_hook_class()(self.kafka_conn_id, group_id, client_log)
        try:
            return hook.get_conn
        except Exception as exc:
            raise ConnectionFailed(
                f"cannot create a Kafka consumer from Airflow connection {self.kafka_conn_id!r}: {exc}"
            ) from exc

    def bootstrap_servers(self) -> str:
        from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook

        return str(KafkaBaseHook.get_connection(self.kafka_conn_id).extra_dejson.get("bootstrap.servers"))

    def postgres(self):
        """A psycopg (3) connection, autocommit off."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        try:
            conn = PostgresHook(postgres_conn_id=self.postgres_conn_id).get_conn()
        except Exception as exc:
            raise ConnectionFailed(
                f"cannot connect to PostgreSQL through Airflow connection {self.postgres_conn_id!r}: "
                f"{exc}. Is the database up (`make status`) and the connection right?"
            ) from exc
        if not hasattr(conn, "transaction") or not hasattr(conn.cursor(), "copy"):
            conn.close()
            raise ConnectionFailed(
                "the Postgres provider returned a psycopg2 connection; the loader needs psycopg 3 "
                "(installed with SQLAlchemy 2 the provider uses it, see requirements.txt)"
            )
        return conn

    def clickhouse(self):
        """A clickhouse_connect client."""
        from airflow.providers.clickhousedb.hooks.clickhouse import ClickHouseHook

        try:
            return ClickHouseHook(clickhouse_conn_id=self.clickhouse_conn_id).get_client()
        except Exception as exc:
            raise ConnectionFailed(
                f"cannot connect to ClickHouse through Airflow connection {self.clickhouse_conn_id!r}: "
                f"{exc}. Is the server up (`make status`) and the connection right?"
            ) from exc
