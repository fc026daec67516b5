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
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from kafka_elt.ingest.batch import Batch
from kafka_elt.ingest.clickhouse_sink import ClickHouseSink
from kafka_elt.ingest.connections import Connections
from kafka_elt.ingest.consumer import partition_state, with_retries
from kafka_elt.ingest.errors import KafkaReadError, OffsetCommitError, SinkWriteError
from kafka_elt.ingest.postgres_sink import PostgresSink, SinkResult
from kafka_elt.ingest.registry import TopicSpec
from kafka_elt.ingest.validators import KINDS

log = logging.getLogger(__name__)

# Give up on a partition that yields nothing (and no end-of-partition event) for this
# long, rather than sit out the whole time budget; the next run carries on.
IDLE_TIMEOUT_S = 30.0
POLL_TIMEOUT_S = 1.0


@dataclass
class EngineCounts:
    raw_inserted: int = 0
    raw_skipped: int = 0
    dead_inserted: int = 0
    dead_skipped: int = 0

    def add(self, result: SinkResult) -> None:
        self.raw_inserted += result.raw_inserted
        self.raw_skipped += result.raw_skipped
        self.dead_inserted += result.dead_inserted
        self.dead_skipped += result.dead_skipped

    @property
    def skipped_duplicate(self) -> int:
        return self.raw_skipped + self.dead_skipped


@dataclass
class PartitionResult:
    """What one drain of one partition did; JSON-ready through ``to_dict`` (XCom)."""

    topic: str
    partition: int
    start_offset: int
    end_offset: int
    committed_offset: int  # the next offset the group will read
    read: int = 0
    loaded: int = 0  # valid messages, now in the raw table of both engines
    dead_lettered: int = 0  # poison messages, now in the dead-letter table of both engines
    postgres: EngineCounts = field(default_factory=EngineCounts)
    clickhouse: EngineCounts = field(default_factory=EngineCounts)
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

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rate"] = round(self.rate, 1)
        data["seconds"] = round(self.seconds, 3)
        data["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return data

    def line(self) -> str:
        return (
            f"{self.topic}[{self.partition}] offsets {self.start_offset}->{self.committed_offset} "
            f"(planned end {self.end_offset}): read {self.read}, loaded {self.loaded}, "
            f"dead-lettered {self.dead_lettered}, skipped as duplicates "
            f"{self.postgres.skipped_duplicate} (PostgreSQL) / {self.clickhouse.skipped_duplicate} (ClickHouse), "
            f"lag {self.lag}, {self.rate:,.0f} msg/s in {self.seconds:.1f}s, stopped by {self.stopped_by}"
        )


class _Drain:
    """State of one drain; ``run`` is the loop, ``_flush`` the four-step batch write."""

    def __init__(self, spec: TopicSpec, partition: int, dag_run_id: str, connections: Connections) -> None:
        self.spec = spec
        self.partition = partition
        self.dag_run_id = dag_run_id
        self.connections = connections
        self.validate = KINDS[spec.kind]

    def _flush(
        self, consumer, pg: PostgresSink, ch: ClickHouseSink, batch: Batch, result: PartitionResult
    ) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        ingested_at = datetime.now(UTC)
        where = f"{batch.describe()} ({len(batch.raw)} valid, {len(batch.dead)} poison)"
        timings = result.timings
        t0 = time.perf_counter()
        try:
            pg_result = pg.stage(batch, ingested_at, self.dag_run_id)
        except Exception as exc:
            pg.rollback()
            raise SinkWriteError(
                f"PostgreSQL write into {self.spec.qualified_table} / {self.spec.qualified_dead_letter_table} "
                f"failed for {where}: {exc}. Rolled back; no offset was committed, so a re-run reads this "
                "batch again and loads it once. Check that PostgreSQL is up and the loader role may write "
                "these tables, then clear the task."
            ) from exc
        t1 = time.perf_counter()
        try:
            ch_result = ch.write(batch, ingested_at, self.dag_run_id)
        except Exception as exc:
            pg.rollback()
            raise SinkWriteError(
                f"ClickHouse insert into {self.spec.qualified_table} / {self.spec.qualified_dead_letter_table} "
                f"failed for {where}: {exc}. PostgreSQL was rolled back and no offset was committed, so a "
                "re-run reads this batch again and loads it once. Check that ClickHouse is up and its user "
                "may insert into these tables, then clear the task."
            ) from exc
        t2 = time.perf_counter()
        try:
            pg.commit()
        except Exception as exc:
            raise SinkWriteError(
                f"PostgreSQL commit failed for {where} in {self.spec.qualified_table}: {exc}. ClickHouse "
                "already holds the batch; no offset was committed, so a re-run reads it again and both "
                "databases skip what they hold. Check PostgreSQL, then clear the task."
            ) from exc
        t3 = time.perf_counter()
        try:
            offsets = [TopicPartition(batch.topic, batch.partition, batch.next_offset)]
            committed = with_retries(
                f"commit of {batch.describe()}", lambda: consumer.commit(offsets=offsets, asynchronous=False)
            )
            errors = [tp.error for tp in committed or () if tp.error is not None]
            if errors:
                raise KafkaException(errors[0])
        except KafkaException as exc:
            raise OffsetCommitError(
                f"Kafka refused the offset commit ({batch.next_offset}) for {where}: {exc}. Both databases hold "
                "the batch, so a re-run reads it again and skips it as duplicates. Check the broker and that "
                "no other consumer group member owns this partition, then clear the task."
            ) from exc
        t4 = time.perf_counter()
        timings["postgres"] += (t1 - t0) + (t3 - t2)
        timings["clickhouse"] += t2 - t1
        timings["commit"] += t4 - t3
        result.postgres.add(pg_result)
        result.clickhouse.add(ch_result)
        result.loaded += len(batch.raw)
        result.dead_lettered += len(batch.dead)
        result.committed_offset = batch.next_offset
        result.batches += 1

    def run(
        self,
        end_offset: int | None,
        group_id: str | None,
        max_messages: int,
        max_seconds: float,
        batch_size: int,
        progress_every_s: float,
    ) -> PartitionResult:
        from confluent_kafka import KafkaException, TopicPartition

        spec, partition = self.spec, self.partition
        started = time.monotonic()
        consumer = self.connections.consumer(group_id or spec.consumer_group)
        pg = ch = None
        try:
            low, high, committed = partition_state(consumer, spec.topic, partition)
            end = high if end_offset is None else min(end_offset, high)
            if end_offset is not None and end_offset > high:
                log.warning(
                    "%s[%d]: planned end %d is past the high watermark %d (topic recreated or truncated?); "
                    "draining to %d",
                    spec.topic, partition, end_offset, high, high,
                )  # fmt: skip
            if 0 <= committed < low:
                log.warning(
                    "%s[%d]: committed offset %d is below the low watermark %d: %d messages were deleted by "
                    "retention before they were ingested. Lengthen the topic's retention or run ingestion "
                    "more often.",
                    spec.topic, partition, committed, low, low - committed,
                )  # fmt: skip
            start = committed if committed >= low else low
            result = PartitionResult(spec.topic, partition, start, end, committed_offset=start)
            if start >= end:
                result.stopped_by = "up_to_date"
                result.lag = max(high - start, 0)
                result.seconds = time.monotonic() - started
                log.info("%s", result.line())
                return result

            pg = PostgresSink(self.connections.postgres(), spec)
            ch = ClickHouseSink(self.connections.clickhouse(), spec)
            consumer.assign([TopicPartition(spec.topic, partition, start)])
            log.info(
                "%s[%d]: draining offsets %d..%d (%d messages, budget %d messages / %ds, batches of %d) "
                "into %s in PostgreSQL and ClickHouse",
                spec.topic, partition, start, end - 1, end - start, max_messages, max_seconds, batch_size,
                spec.qualified_table,
            )  # fmt: skip

            deadline = started + max_seconds
            position = start  # next offset expected from Kafka
            last_progress = last_message = time.monotonic()
            batch = Batch(spec.topic, partition)
            stop = None
            timings = result.timings
            validate = self.validate
            while stop is None:
                now = time.monotonic()
                if now >= deadline:
                    stop = "max_seconds"
                    break
                want = min(batch_size - len(batch), max_messages - result.read - len(batch), end - position)
                t0 = time.perf_counter()
                try:
                    messages = consumer.consume(num_messages=max(want, 1), timeout=POLL_TIMEOUT_S)
                except KafkaException as exc:
                    raise KafkaReadError(
                        f"reading {spec.topic}[{partition}] at offset {position} failed: {exc}. Nothing after "
                        f"offset {result.committed_offset} was committed; re-run the task once the broker is healthy."
                    ) from exc
                t1 = time.perf_counter()
                added, eof, past_end = batch.extend(messages, validate, end)
                if added:
                    position = batch.last_offset + 1
                if past_end:
                    stop = "end"  # produced after the run started: the next run's work
                elif eof:
                    stop = "eof"
                t2 = time.perf_counter()
                timings["kafka"] += t1 - t0
                timings["decode"] += t2 - t1
                if messages:
                    last_message = time.monotonic()
                if position >= end:
                    stop = "end"
                elif result.read + len(batch) >= max_messages:
                    stop = "max_messages"
                elif stop is None and time.monotonic() - last_message > IDLE_TIMEOUT_S:
                    stop = "idle"
                    log.warning(
                        "%s[%d]: no message for %.0fs at offset %d although the planned end is %d; stopping "
                        "this run (the next one resumes here)",
                        spec.topic, partition, IDLE_TIMEOUT_S, position, end,
                    )  # fmt: skip
                if len(batch) and (len(batch) >= batch_size or stop is not None):
                    result.read += len(batch)
                    self._flush(consumer, pg, ch, batch, result)
                    batch = Batch(spec.topic, partition)
                if time.monotonic() - last_progress >= progress_every_s:
                    last_progress = time.monotonic()
                    elapsed = last_progress - started
                    log.info(
                        "%s[%d]: at offset %d of %d (%.0f%%): read %d, loaded %d, dead-lettered %d, %.0f msg/s",
                        spec.topic, partition, result.committed_offset, end,
                        100.0 * (result.committed_offset - start) / max(end - start, 1),
                        result.read, result.loaded, result.dead_lettered, result.read / elapsed,
                    )  # fmt: skip
            if len(batch):  # stopped by the time budget with a partial batch: store it too
                result.read += len(batch)
                self._flush(consumer, pg, ch, batch, result)
            result.stopped_by = stop or "end"
            _, high_now, _ = partition_state(consumer, spec.topic, partition)
            result.lag = max(high_now - result.committed_offset, 0)
            result.seconds = time.monotonic() - started
            log.info("%s", result.line())
            return result
        finally:
            for closeable in (pg, ch, consumer):
                if closeable is not None:
                    try:
                        closeable.close()
                    except Exception as exc:
                        log.warning("closing %r failed: %s", closeable, exc)


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
