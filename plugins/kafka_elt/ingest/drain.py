"""The bounded drain of one partition: read a batch, write it to PostgreSQL and
ClickHouse, then commit its offsets; repeat until the planned end, the message budget
or the time budget.

Order of a batch, and why it makes the task a transaction:
1. PostgreSQL: raw rows and dead letters written inside an open transaction.
2. ClickHouse: the same rows inserted (offsets already there are skipped).
3. PostgreSQL commit.
4. Kafka: the batch's next offset committed, synchronously.
A failure in 1 or 2 rolls PostgreSQL back and commits nothing. A failure after 2 or 3
leaves rows in one or both databases but the offset uncommitted: the next run reads the
batch again and both sinks skip what they already hold. Either way every message ends
up exactly once in each database, and poison messages in the dead-letter tables.

A drain in parts: ``plan_range`` (where to start and stop), ``_Drain._read`` (the read
loop), ``stop_reason`` (the stop rules), ``_Drain._flush`` (the four steps above).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from kafka_elt.ingest.batch import Batch, SinkResult
from kafka_elt.ingest.clickhouse_sink import ClickHouseSink
from kafka_elt.ingest.connections import Connections
from kafka_elt.ingest.consumer import partition_state, with_retries
from kafka_elt.ingest.errors import KafkaReadError, OffsetCommitError, SinkWriteError
from kafka_elt.ingest.kafka_log import KafkaClientLog
from kafka_elt.ingest.postgres_sink import PostgresSink
from kafka_elt.ingest.registry import TopicSpec
from kafka_elt.ingest.validators import KINDS
from kafka_elt.settings import ENGINE_LABELS, ENGINES

log = logging.getLogger(__name__)

# Give up on a partition that yields nothing (and no end-of-partition event) for this
# long, rather than sit out the whole time budget; the next run carries on.
IDLE_TIMEOUT_S = 30.0
POLL_TIMEOUT_S = 1.0


def _per_engine() -> dict[str, int]:
    return dict.fromkeys(ENGINES, 0)


def _by_engine(counts: dict[str, int]) -> str:
    return " / ".join(f"{counts[engine]} ({ENGINE_LABELS[engine]})" for engine in ENGINES)


@dataclass
class PartitionResult:
    """What one drain of one partition did; JSON-ready through ``to_dict`` (XCom).

    Each message read ends up one of three ways in each database: ``written`` (newly, into
    the raw table), ``skipped_already_stored`` (the raw table held it already: a re-read
    batch), or ``dead_lettered`` (poison, in the dead-letter table). So, per engine,
    read = written + skipped_already_stored + dead_lettered.
    """

    topic: str
    partition: int
    start_offset: int
    end_offset: int
    committed_offset: int  # the next offset the group will read
    read: int = 0
    written: dict[str, int] = field(default_factory=_per_engine)  # per engine
    skipped_already_stored: dict[str, int] = field(default_factory=_per_engine)  # per engine
    dead_lettered: int = 0  # poison messages, in the dead-letter table of both engines
    batches: int = 0
    lag: int = 0  # messages left in the partition after this run
    stopped_by: str = "end"  # end | up_to_date | eof | max_messages | max_seconds | idle
    seconds: float = 0.0
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("kafka", "decode", "postgres", "clickhouse", "commit"), 0.0)
    )

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def add(self, batch: Batch, results: dict[str, SinkResult]) -> None:
        """Count a batch that every engine now holds and whose offsets Kafka committed."""
        for engine, result in results.items():
            self.written[engine] += result.written
            self.skipped_already_stored[engine] += result.skipped_already_stored
        self.dead_lettered += len(batch.dead)
        self.committed_offset = batch.next_offset
        self.batches += 1

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rate"] = round(self.rate, 1)
        data["seconds"] = round(self.seconds, 3)
        data["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return data

    def line(self) -> str:
        return (
            f"{self.topic}[{self.partition}] offsets {self.start_offset}->{self.committed_offset} "
            f"(planned end {self.end_offset}): read {self.read}: written {_by_engine(self.written)}, "
            f"skipped as already stored {_by_engine(self.skipped_already_stored)}, "
            f"dead-lettered {self.dead_lettered}; lag {self.lag}, {self.rate:,.0f} msg/s in {self.seconds:.1f}s, "
            f"stopped by {self.stopped_by}"
        )


def plan_range(
    topic: str, partition: int, low: int, high: int, committed: int, end_offset: int | None
) -> tuple[int, int]:
    """(start, end) of a drain: from the group's committed offset (the low watermark when
    it has none or retention deleted it) up to the planned end, never past the high
    watermark. Warns about the two ways the partition can have moved under the plan."""
    end = high if end_offset is None else min(end_offset, high)
    if end_offset is not None and end_offset > high:
        log.warning(
            "%s[%d]: planned end %d is past the high watermark %d (topic recreated or truncated?); "
            "draining to %d",
            topic, partition, end_offset, high, high,
        )  # fmt: skip
    if 0 <= committed < low:
        log.warning(
            "%s[%d]: committed offset %d is below the low watermark %d: %d messages were deleted by "
            "retention before they were ingested. Lengthen the topic's retention or run ingestion "
            "more often.",
            topic, partition, committed, low, low - committed,
        )  # fmt: skip
    start = committed if committed >= low else low
    return start, end


def stop_reason(
    *, position: int, end: int, taken: int, max_messages: int, past_end: bool, eof: bool, idle_s: float
) -> str | None:
    """Why the read loop stops after a poll, or None to read on; the first rule that holds
    names the stop. ``taken``: messages read this run, stored or in the open batch.
    (The time budget is checked before each poll, in the loop itself.)"""
    if position >= end:
        return "end"
    if taken >= max_messages:
        return "max_messages"
    if past_end:
        return "end"  # a message produced after the run started: the next run's work
    if eof:
        return "eof"
    if idle_s > IDLE_TIMEOUT_S:
        return "idle"
    return None


@dataclass(frozen=True)
class _Budget:
    """How far and how long one drain goes (clock times from ``_Drain.clock``)."""

    end: int
    max_messages: int
    batch_size: int
    started: float
    deadline: float
    progress_every_s: float

    def want(self, in_batch: int, read: int, position: int) -> int:
        """How many messages to ask Kafka for: no more than the batch, the budget and the
        planned end have room for (at least one, to see an end-of-partition event)."""
        return max(
            min(self.batch_size - in_batch, self.max_messages - read - in_batch, self.end - position), 1
        )


def _postgres_sink(connections: Connections, spec: TopicSpec) -> PostgresSink:
    return PostgresSink(connections.postgres(), spec)


def _clickhouse_sink(connections: Connections, spec: TopicSpec) -> ClickHouseSink:
    return ClickHouseSink(connections.clickhouse(), spec)


class _Drain:
    """State of one drain; ``run`` opens and closes, ``_read`` loops, ``_flush`` writes.

    ``sink_factories`` (PostgreSQL's, then ClickHouse's) and ``clock`` are what unit
    tests replace.
    """

    def __init__(
        self,
        spec: TopicSpec,
        partition: int,
        dag_run_id: str,
        connections: Connections,
        *,
        sink_factories=(_postgres_sink, _clickhouse_sink),
        clock=time.monotonic,
    ) -> None:
        self.spec = spec
        self.partition = partition
        self.dag_run_id = dag_run_id
        self.connections = connections
        self.sink_factories = sink_factories
        self.clock = clock
        self.validate = KINDS[spec.kind]
        self.where = f"{spec.topic}[{partition}]"
        self.client_log = KafkaClientLog(self.where, clock=clock)

    # -- opening, planning, closing ------------------------------------------------------

    def run(
        self,
        end_offset: int | None,
        group_id: str | None,
        max_messages: int,
        max_seconds: float,
        batch_size: int,
        progress_every_s: float,
    ) -> PartitionResult:
        started = self.clock()
        consumer = self.connections.consumer(group_id or self.spec.consumer_group, client_log=self.client_log)
        sinks: list = []
        try:
            low, high, committed = self._partition_state(consumer)
            start, end = plan_range(self.spec.topic, self.partition, low, high, committed, end_offset)
            result = PartitionResult(self.spec.topic, self.partition, start, end, committed_offset=start)
            if start >= end:
                result.stopped_by = "up_to_date"
                result.lag = max(high - start, 0)
            else:
                for make in self.sink_factories:  # one by one: those opened get closed
                    sinks.append(make(self.connections, self.spec))
                budget = _Budget(
                    end, max_messages, batch_size, started, started + max_seconds, progress_every_s
                )
                self._assign(consumer, start, budget, max_seconds)
                result.stopped_by = self._read(consumer, sinks, result, budget)
                _, high_now, _ = self._partition_state(consumer)
                result.lag = max(high_now - result.committed_offset, 0)
            result.seconds = self.clock() - started
            log.info("%s", result.line())
            return result
        finally:
            self.client_log.flush()
            self._close(*sinks, consumer)

    def _partition_state(self, consumer) -> tuple[int, int, int]:
        try:
            return partition_state(consumer, self.spec.topic, self.partition)
        except KafkaReadError as exc:
            raise KafkaReadError(f"{exc}{self.client_log.story()}") from exc

    def _assign(self, consumer, start: int, budget: _Budget, max_seconds: float) -> None:
        from confluent_kafka import TopicPartition

        consumer.assign([TopicPartition(self.spec.topic, self.partition, start)])
        log.info(
            "%s[%d]: draining offsets %d..%d (%d messages, budget %d messages / %ds, batches of %d) "
            "into %s in PostgreSQL and ClickHouse",
            self.spec.topic, self.partition, start, budget.end - 1, budget.end - start, budget.max_messages,
            max_seconds, budget.batch_size, self.spec.qualified_table,
        )  # fmt: skip

    @staticmethod
    def _close(*closeables) -> None:
        for closeable in closeables:
            try:
                closeable.close()
            except Exception as exc:
                log.warning("closing %r failed: %s", closeable, exc)

    # -- the read loop -------------------------------------------------------------------

    def _read(self, consumer, sinks: list, result: PartitionResult, budget: _Budget) -> str:
        """Poll, decode, and store full batches until a stop rule holds; returns the rule."""
        batch = Batch(self.spec.topic, self.partition)
        position = result.start_offset  # next offset expected from Kafka
        last_message = last_progress = self.clock()
        while self.clock() < budget.deadline:
            messages = self._consume(
                consumer, budget.want(len(batch), result.read, position), position, result
            )
            if messages:
                last_message = self.clock()
            added, eof, past_end = self._decode(batch, messages, budget.end, result)
            if added:
                position = batch.last_offset + 1
            stop = stop_reason(
                position=position, end=budget.end, taken=result.read + len(batch), max_messages=budget.max_messages,
                past_end=past_end, eof=eof, idle_s=self.clock() - last_message,
            )  # fmt: skip
            if stop == "idle":
                self._log_idle(position, budget.end, last_message)
            if len(batch) >= budget.batch_size or (stop and len(batch)):
                self._flush(consumer, sinks, batch, result)
                batch = Batch(self.spec.topic, self.partition)
            if self.clock() - last_progress >= budget.progress_every_s:
                last_progress = self.clock()
                self._log_progress(result, budget, last_progress)
            if stop:
                return stop
        if len(batch):  # stopped by the time budget with a partial batch: store it too
            self._flush(consumer, sinks, batch, result)
        return "max_seconds"

    def _consume(self, consumer, want: int, position: int, result: PartitionResult) -> list:
        from confluent_kafka import KafkaException

        t0 = time.perf_counter()
        try:
            messages = consumer.consume(num_messages=want, timeout=POLL_TIMEOUT_S)
        except KafkaException as exc:
            raise KafkaReadError(
                f"reading {self.where} at offset {position} failed: {exc}. Nothing after "
                f"offset {result.committed_offset} was committed; re-run the task once the broker is healthy."
                f"{self.client_log.story()}"
            ) from exc
        result.timings["kafka"] += time.perf_counter() - t0
        return messages

    def _decode(
        self, batch: Batch, messages: list, end: int, result: PartitionResult
    ) -> tuple[int, bool, bool]:
        t0 = time.perf_counter()
        outcome = batch.extend(messages, self.validate, end)
        result.timings["decode"] += time.perf_counter() - t0
        return outcome

    def _log_idle(self, position: int, end: int, last_message: float) -> None:
        # Waiting out a broker that is down is giving up on this run: an error, with the story.
        broker_trouble = self.client_log.transient_since(last_message)
        log.log(
            logging.ERROR if broker_trouble else logging.WARNING,
            "%s: no message for %.0fs at offset %d although the planned end is %d; stopping "
            "this run (the next one resumes here)%s",
            self.where, IDLE_TIMEOUT_S, position, end, self.client_log.story() if broker_trouble else "",
        )  # fmt: skip

    def _log_progress(self, result: PartitionResult, budget: _Budget, now: float) -> None:
        start = result.start_offset
        log.info(
            "%s: at offset %d of %d (%.0f%%): read %d, written %s, dead-lettered %d, %.0f msg/s",
            self.where, result.committed_offset, budget.end,
            100.0 * (result.committed_offset - start) / max(budget.end - start, 1),
            result.read, _by_engine(result.written), result.dead_lettered,
            result.read / max(now - budget.started, 1e-9),
        )  # fmt: skip

    # -- the four steps of a batch -------------------------------------------------------

    def _flush(self, consumer, sinks: list, batch: Batch, result: PartitionResult) -> None:
        """Store one batch: the module docstring's four steps, in their order."""
        pg, ch = sinks
        result.read += len(batch)
        ingested_at = datetime.now(UTC)
        where = f"{batch.describe()} ({len(batch.raw)} valid, {len(batch.dead)} poison)"
        t0 = time.perf_counter()
        pg_result = self._stage_postgres(pg, batch, ingested_at, where)
        t1 = time.perf_counter()
        ch_result = self._write_clickhouse(pg, ch, batch, ingested_at, where)
        t2 = time.perf_counter()
        self._commit_postgres(pg, where)
        t3 = time.perf_counter()
        self._commit_offset(consumer, batch, where)
        t4 = time.perf_counter()
        timings = result.timings
        timings["postgres"] += (t1 - t0) + (t3 - t2)
        timings["clickhouse"] += t2 - t1
        timings["commit"] += t4 - t3
        result.add(batch, {"postgres": pg_result, "clickhouse": ch_result})

    def _stage_postgres(self, pg, batch: Batch, ingested_at: datetime, where: str) -> SinkResult:
        try:
            return pg.stage(batch, ingested_at, self.dag_run_id)
        except Exception as exc:
            pg.rollback()
            raise SinkWriteError(
                f"PostgreSQL write into {self.spec.qualified_table} / {self.spec.qualified_dead_letter_table} "
                f"failed for {where}: {exc}. Rolled back; no offset was committed, so a re-run reads this "
                "batch again and loads it once. Check that PostgreSQL is up and the loader role may write "
                "these tables, then clear the task."
            ) from exc

    def _write_clickhouse(self, pg, ch, batch: Batch, ingested_at: datetime, where: str) -> SinkResult:
        try:
            return ch.write(batch, ingested_at, self.dag_run_id)
        except Exception as exc:
            pg.rollback()
            raise SinkWriteError(
                f"ClickHouse insert into {self.spec.qualified_table} / {self.spec.qualified_dead_letter_table} "
                f"failed for {where}: {exc}. PostgreSQL was rolled back and no offset was committed, so a "
                "re-run reads this batch again and loads it once. Check that ClickHouse is up and its user "
                "may insert into these tables, then clear the task."
            ) from exc

    def _commit_postgres(self, pg, where: str) -> None:
        try:
            pg.commit()
        except Exception as exc:
            raise SinkWriteError(
                f"PostgreSQL commit failed for {where} in {self.spec.qualified_table}: {exc}. ClickHouse "
                "already holds the batch; no offset was committed, so a re-run reads it again and both "
                "databases skip what they hold. Check PostgreSQL, then clear the task."
            ) from exc

    def _commit_offset(self, consumer, batch: Batch, where: str) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        offsets = [TopicPartition(batch.topic, batch.partition, batch.next_offset)]
        try:
            committed = with_retries(
                f"commit of {batch.describe()}", lambda: consumer.commit(offsets=offsets, asynchronous=False)
            )
            errors = [tp.error for tp in committed or () if tp.error is not None]
            if errors:
                raise KafkaException(errors[0])
        except KafkaException as exc:
            raise OffsetCommitError(
                f"Kafka refused the offset commit ({batch.next_offset}) for {where}: {exc}. Both databases hold "
                "the batch, so a re-run reads it again and skips it as already stored. Check the broker and "
                "that no other consumer group member owns this partition, then clear the task."
                f"{self.client_log.story()}"
            ) from exc


def drain_partition(
    spec: TopicSpec,
    partition: int,
    *,
    dag_run_id: str,
    end_offset: int | None = None,
    connections: Connections | None = None,
    group_id: str | None = None,
    max_messages: int | None = None,
    max_seconds: float | None = None,
    batch_size: int | None = None,
    progress_every_s: float = 10.0,
) -> PartitionResult:
    """Drain one partition into both databases, bounded; the DAG's and the benchmark's entry.

    ``end_offset`` is the high watermark planned at run start (None: take it now).
    Budgets default to the topic registry's. ``group_id`` overrides the consumer group
    (tests use their own). Raises an IngestError subclass, with the topic, partition,
    offsets and table in its message, when anything fails; offsets are then committed
    up to the last batch both databases hold, and no further.
    """
    return _Drain(spec, partition, dag_run_id, connections or Connections()).run(
        end_offset=end_offset,
        group_id=group_id,
        max_messages=max_messages or spec.max_messages,
        max_seconds=max_seconds or spec.max_seconds,
        batch_size=batch_size or spec.batch_size,
        progress_every_s=progress_every_s,
    )
