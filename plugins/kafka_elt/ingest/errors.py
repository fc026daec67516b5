"""Errors of the ingestion, written for the operator who reads the failed task's log.

Each message says what failed, where (topic, partition, offsets, table), what state the
pipeline is in (what was and was not committed) and what to do next.
"""

from __future__ import annotations


class IngestError(RuntimeError):
    """Base class: the run failed; nothing after the last committed batch is lost."""


class ConnectionFailed(IngestError):
    """A service could not be reached through its Airflow connection."""


class TopicNotFound(IngestError):
    """The registry names a topic the broker does not have."""


class KafkaReadError(IngestError):
    """The consumer reported an error while reading a partition."""


class DdlError(IngestError):
    """Creating the raw tables failed."""


class SinkWriteError(IngestError):
    """Writing a batch to PostgreSQL or ClickHouse failed; its offsets were not committed."""


class OffsetCommitError(IngestError):
    """Both databases hold the batch but Kafka refused the offset commit."""
