"""The topic registry (``include/topics.yaml``): which topics are ingested, into which raw
tables, validated how, on which schedule and within which budgets.

Read at DAG-parse time, so it only touches a local YAML file. Every field is checked
here, with errors that name the file, the topic and the field, so that a typo fails
the DAG import loudly instead of at 3 a.m. inside a task.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kafka_elt.ingest.validators import KINDS
from kafka_elt.settings import REGISTRY_FILE

# plugins/kafka_elt/ingest/registry.py -> repository root (the Airflow home in images).

# Table and schema names are interpolated into SQL, so they are held to plain identifiers.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Kafka's own rule for topic names.
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")

_DEFAULTS: dict[str, Any] = {
    "raw_schema": "raw",
    "dead_letter_table": "dead_letter",
    "partitions": 3,
    "schedule": "@hourly",
    "watch": True,
    "watch_interval_seconds": 1.0,
    "debounce_seconds": 1.0,
    "batch_size": 50000,
    "batch_max_bytes": 64 * 1024 * 1024,
    "max_messages": 2_000_000,
    "max_seconds": 900,
    "consumer_group": None,
    "description": "",
}
_REQUIRED = ("table", "kind")
# Below this a batch of small messages would end every few hundred messages: a
# PostgreSQL commit, a ClickHouse part and a Kafka commit each time.
_MIN_BATCH_BYTES = 1024 * 1024


class RegistryError(ValueError):
    """The topic registry is malformed; the message names the file, topic and field."""


@dataclass(frozen=True)
class TopicSpec:
    """One ingested topic and everything the pipeline needs to know about it."""

    topic: str
    table: str
    kind: str
    raw_schema: str = "raw"
    dead_letter_table: str = "dead_letter"
    partitions: int = 3
    # The safety clock: with ``watch`` on, runs start when the topic has unloaded messages
    # (kafka_elt.ingest.watcher) and also on this schedule, in case the watcher is down.
    schedule: str | None = "@hourly"
    watch: bool = True
    watch_interval_seconds: float = 1.0
    debounce_seconds: float = 1.0
    batch_size: int = 50000
    # A batch also ends once its messages (values and keys, as received) reach this many
    # bytes: what ClickHouse's insert holds until the batch is stored scales with it.
    batch_max_bytes: int = 64 * 1024 * 1024
    max_messages: int = 2_000_000
    max_seconds: int = 900
    consumer_group: str | None = None
    description: str = ""

    @property
    def qualified_table(self) -> str:
        return f"{self.raw_schema}.{self.table}"

    @property
    def qualified_dead_letter_table(self) -> str:
        return f"{self.raw_schema}.{self.dead_letter_table}"

    @property
    def dag_id(self) -> str:
        # From the table, not the topic: topic names may hold characters (".", "-")
        # that read badly in DAG ids and asset names.
        return f"ingest_{self.table}"

    def with_overrides(self, **changes: Any) -> TopicSpec:
        """A copy with some fields changed (tests and the benchmark use their own topics)."""
        spec = replace(self, **changes)
        _check_spec(spec, "<override>")
        return spec


def _check_positive_int(value: Any, where: str, field: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise RegistryError(f"{where}: `{field}` must be a positive integer, got {value!r}")


def _check_names(spec: TopicSpec, where: str) -> None:
    if not _TOPIC.match(spec.topic):
        raise RegistryError(f"{where}: not a valid Kafka topic name (letters, digits, '.', '_', '-')")
    for field in ("table", "raw_schema", "dead_letter_table"):
        value = getattr(spec, field)
        if not isinstance(value, str) or not _IDENTIFIER.match(value):
            raise RegistryError(
                f"{where}: `{field}` must be a lowercase SQL identifier ([a-z_][a-z0-9_]*), got {value!r}"
            )
    if spec.table == spec.dead_letter_table:
        raise RegistryError(f"{where}: `table` must differ from `dead_letter_table` ({spec.table!r})")
    if spec.kind not in KINDS:
        raise RegistryError(f"{where}: unknown `kind` {spec.kind!r}; known kinds: {', '.join(sorted(KINDS))}")


def _check_watch(spec: TopicSpec, where: str) -> None:
    if not isinstance(spec.watch, bool):
        raise RegistryError(f"{where}: `watch` must be true or false, got {spec.watch!r}")
    for field in ("watch_interval_seconds", "debounce_seconds"):
        value = getattr(spec, field)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0 or value > 3600:
            raise RegistryError(f"{where}: `{field}` must be a number of seconds in [0, 3600], got {value!r}")
    if spec.watch_interval_seconds < 0.1:
        raise RegistryError(f"{where}: `watch_interval_seconds` must be at least 0.1")


def _check_spec(spec: TopicSpec, source: str) -> None:
    where = f"{source}: topic {spec.topic!r}"
    _check_names(spec, where)
    for field in ("partitions", "batch_size", "batch_max_bytes", "max_messages", "max_seconds"):
        _check_positive_int(getattr(spec, field), where, field)
    if spec.batch_max_bytes < _MIN_BATCH_BYTES:
        raise RegistryError(
            f"{where}: `batch_max_bytes` must be at least {_MIN_BATCH_BYTES} (1 MiB), got {spec.batch_max_bytes}"
        )
    _check_watch(spec, where)
    if spec.schedule is not None and not (isinstance(spec.schedule, str) and spec.schedule.strip()):
        raise RegistryError(f"{where}: `schedule` must be a cron expression, a preset or null")
    if spec.consumer_group is not None and not (isinstance(spec.consumer_group, str) and spec.consumer_group):
        raise RegistryError(f"{where}: `consumer_group` must be a non-empty string or omitted")


def _defaults(document: dict, source: str) -> dict[str, Any]:
    unknown_top = set(document) - {"defaults", "topics"}
    if unknown_top:
        raise RegistryError(
            f"{source}: unknown top-level keys {sorted(unknown_top)}; expected defaults, topics"
        )
    defaults = dict(_DEFAULTS)
    given_defaults = document.get("defaults") or {}
    if not isinstance(given_defaults, dict):
        raise RegistryError(f"{source}: `defaults` must be a mapping")
    unknown = set(given_defaults) - set(_DEFAULTS)
    if unknown:
        raise RegistryError(f"{source}: unknown keys in `defaults`: {sorted(unknown)}")
    defaults.update(given_defaults)
    return defaults


def _topic_spec(topic: Any, settings: Any, defaults: dict[str, Any], source: str) -> TopicSpec:
    where = f"{source}: topic {topic!r}"
    if not isinstance(settings, dict):
        raise RegistryError(f"{where}: settings must be a mapping")
    unknown = set(settings) - set(_DEFAULTS) - set(_REQUIRED)
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}")
    missing = [field for field in _REQUIRED if field not in settings]
    if missing:
        raise RegistryError(f"{where}: missing required keys {missing}")
    fields = {**defaults, **settings}
    fields["description"] = " ".join(str(fields.get("description") or "").split())
    spec = TopicSpec(topic=str(topic), **fields)
    _check_spec(spec, source)
    return spec


def _check_unique(specs: list[TopicSpec], source: str) -> None:
    for field, label in (("table", "raw table"), ("dag_id", "DAG id")):
        seen: dict[str, str] = {}
        for spec in specs:
            key = getattr(spec, field)
            if key in seen:
                raise RegistryError(
                    f"{source}: topics {seen[key]!r} and {spec.topic!r} share the {label} {key!r}"
                )
            seen[key] = spec.topic


def parse_registry(document: Any, source: str = "<registry>") -> list[TopicSpec]:
    """Turn the parsed YAML document into checked TopicSpecs (in file order)."""
    if not isinstance(document, dict) or not isinstance(document.get("topics"), dict):
        raise RegistryError(f"{source}: expected a mapping with a `topics:` mapping (topic name -> settings)")
    defaults = _defaults(document, source)
    specs = [_topic_spec(topic, settings, defaults, source) for topic, settings in document["topics"].items()]
    _check_unique(specs, source)
    return specs


def load_registry(path: Path | str | None = None) -> list[TopicSpec]:
    """Read and check the registry file (default: ``include/topics.yaml``).

    A DAG file parse reads it up to twice (its own DAGs and ``kafka_elt.assets``), so the
    parsed specs are kept per file and modification time: an edited registry is re-read.
    """
    path = Path(path or os.environ.get("KAFKA_ELT_TOPICS_FILE") or REGISTRY_FILE)
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise RegistryError(
            f"topic registry {path} not found (set KAFKA_ELT_TOPICS_FILE to use another)"
        ) from exc
    return list(_load_registry(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _load_registry(path: Path, _mtime_ns: int, _size: int) -> tuple[TopicSpec, ...]:
    import yaml

    # libyaml's loader when the wheel has it: a third of the pure-Python parse time.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(path.read_text(), Loader=loader)  # noqa: S506 (a safe loader)
    except FileNotFoundError as exc:
        raise RegistryError(
            f"topic registry {path} not found (set KAFKA_ELT_TOPICS_FILE to use another)"
        ) from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"topic registry {path} is not valid YAML: {exc}") from exc
    return tuple(parse_registry(document, str(path)))


def get_topic(topic: str, path: Path | str | None = None) -> TopicSpec:
    """The registry entry of one topic."""
    for spec in load_registry(path):
        if spec.topic == topic:
            return spec
    raise RegistryError(f"topic {topic!r} is not in the topic registry; add it to include/topics.yaml")
