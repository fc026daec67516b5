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

A batch (``batch_size`` messages, or ``batch_max_bytes`` of them, whichever comes
first) is the unit of the offset commit, the PostgreSQL transaction and the ClickHouse
insert. It is read and written in chunks of ``CHUNK_MESSAGES`` (or ``CHUNK_BYTES``):
each chunk is decoded, COPYed into the open PostgreSQL transaction and encoded for
ClickHouse as soon as it is read, then let go, so a drain holds one chunk as Python
objects and the batch only as ClickHouse's compressed blocks (step 2 sends them). Peak
memory therefore no longer grows with ``batch_size``: 50,000 candle messages held at
once cost ~470 MB on top of the interpreter, a 5,000-message chunk a tenth of that
(measured: a drain's peak RSS went from ~610 to ~265 MiB, of which ~145 MiB is the
interpreter with Airflow's imports and ~60 MiB librdkafka's fetch buffers).

A drain in parts: ``plan_range`` (where to start and stop), ``_Drain._read`` (the read
loop), ``stop_reason`` (the stop rules), ``_Drain._write_chunk`` and
``_Drain._finish_batch`` (the four steps above).
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from contextlib import contextmanager
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
# Messages decoded and written per chunk of a batch (see the module docstring): big
# enough that the per-chunk round trip (a COPY statement; the offset probes are per
# batch) stays small, small enough that a chunk's Python objects, COPY stream and Native
# block (~9 KB a candle message all told) stay ~45 MB. The byte cap keeps large messages
# in bounds.
CHUNK_MESSAGES = 5_000
CHUNK_BYTES = 4 * 1024 * 1024


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

    def add(self, batch: _OpenBatch, results: dict[str, SinkResult]) -> None:
        """Count a batch that every engine now holds and whose offsets Kafka committed."""
        for engine, result in results.items():
            self.written[engine] += result.written
            self.skipped_already_stored[engine] += result.skipped_already_stored
        self.dead_lettered += batch.dead
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
    batch_max_bytes: int

    def want(
        self, batch: _OpenBatch, chunk: Batch, read: int, position: int, message_bytes: float | None
    ) -> int:
        """How many messages to ask Kafka for: no more than the chunk, the batch, the budget
        and the planned end have room for (at least one, to see an end-of-partition event).
        The byte caps count in messages of ``message_bytes`` (the mean so far; None before
        the first message, when one is asked for to learn it)."""
        in_batch = batch.messages + len(chunk)
        room = min(
            CHUNK_MESSAGES - len(chunk),
            self.batch_size - in_batch,
            self.max_messages - read - in_batch,
            self.end - position,
        )
        if message_bytes is None:
            room = min(room, 1)
        else:
            byte_room = min(CHUNK_BYTES - chunk.nbytes, self.batch_max_bytes - batch.nbytes - chunk.nbytes)
            room = min(room, int(byte_room // max(message_bytes, 1.0)))
        return max(room, 1)

    def batch_full(self, batch: _OpenBatch, chunk: Batch) -> bool:
        return (
            batch.messages + len(chunk) >= self.batch_size
            or batch.nbytes + chunk.nbytes >= self.batch_max_bytes
        )


@dataclass
class _OpenBatch:
    """The batch being written: its chunks staged in PostgreSQL and encoded for ClickHouse,
    nothing committed yet."""

    topic: str
    partition: int
    # One instant per batch, the same in both engines: when its first chunk is written.
    ingested_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    first_offset: int = -1
    last_offset: int = -1
    messages: int = 0
    nbytes: int = 0
    valid: int = 0
    dead: int = 0
    postgres: SinkResult = field(default_factory=lambda: SinkResult(0, 0, 0, 0))

    @property
    def next_offset(self) -> int:
        """The offset to commit once this batch is stored: the next one to read."""
        return self.last_offset + 1

    def take(self, chunk: Batch) -> None:
        if self.first_offset < 0:
            self.first_offset = chunk.first_offset
            self.ingested_at = datetime.now(UTC)
        self.last_offset = chunk.last_offset
        self.messages += len(chunk)
        self.nbytes += chunk.nbytes
        self.valid += len(chunk.raw)
        self.dead += len(chunk.dead)

    def describe(self) -> str:
        return (
            f"topic {self.topic!r} partition {self.partition} offsets {self.first_offset}..{self.last_offset} "
            f"({self.valid} valid, {self.dead} poison)"
        )


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or a no-op where there is none (musl, macOS)."""
    import ctypes
    import ctypes.util

    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda _pad: 0
    trim.argtypes = [ctypes.c_size_t]
    return trim


def release_freed_memory() -> None:
    """Hand the heap memory freed by the last batch back to the system.

    A chunk's COPY stream and Native block are a few MB each; glibc serves such blocks
    from the heap once bigger ones were freed (its mmap threshold adapts upwards), and
    keeps the freed heap mapped: RSS then creeps up by the fragments. Trimming once per
    batch (a few ms per 50,000 messages) kept a drain's peak ~10 MiB lower in the
    benchmark (265-269 against 275-280 MiB over 400,000 messages).
    """
    _malloc_trim()(0)


@contextmanager
def _young_garbage_only():
    """Keep the cyclic garbage collector off what the process held before the drain.

    A task process holds Airflow's and the providers' objects, hundreds of thousands of
    them, and the drain allocates a few containers per message; with a whole batch alive
    as well, the collector cost 2.1 us of CPU a message (0.32 s per 150,000, measured with
    gc.callbacks), the older generations' collections scanning all of those again and
    again. Frozen, they are left out of every collection (and with one chunk alive, the
    collector now costs ~0.5 us a message); what the drain itself creates is still
    collected as before.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _postgres_sink(connections: Connections, spec: TopicSpec) -> PostgresSink:
    return PostgresSink(connections.postgres(), spec)


def _clickhouse_sink(connections: Connections, spec: TopicSpec) -> ClickHouseSink:
    return ClickHouseSink(connections.clickhouse(), spec)


class _Drain:
    """State of one drain; ``run`` opens and closes, ``_read`` loops, ``_write_chunk`` and
    ``_finish_batch`` write.

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
        # Time the open batch's chunks spent in each sink; counted once the batch is stored.
        self._timings = {"postgres": 0.0, "clickhouse": 0.0}

    # -- opening, planning, closing ------------------------------------------------------

    def run(
        self,
        end_offset: int | None,
        group_id: str | None,
        max_messages: int,
        max_seconds: float,
        batch_size: int,
        progress_every_s: float,
        batch_max_bytes: int,
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
                    end, max_messages, batch_size, started, started + max_seconds, progress_every_s,
                    batch_max_bytes,
                )  # fmt: skip
                self._assign(consumer, start, budget, max_seconds)
                with _young_garbage_only():
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
        """Poll, decode and write chunks, and store full batches, until a stop rule holds;
        returns the rule."""
        batch = _OpenBatch(self.spec.topic, self.partition)
        chunk = Batch(self.spec.topic, self.partition)
        position = result.start_offset  # next offset expected from Kafka
        last_message = last_progress = self.clock()
        seen = seen_bytes = 0  # messages read so far, and their bytes: the mean message size
        while self.clock() < budget.deadline:
            mean_bytes = seen_bytes / seen if seen else None
            want = budget.want(batch, chunk, result.read, position, mean_bytes)
            messages = self._consume(consumer, want, position, result)
            if messages:
                last_message = self.clock()
            chunk_bytes = chunk.nbytes
            added, eof, past_end = self._decode(chunk, messages, budget.end, result)
            del messages  # the chunk holds what it needs of them
            if added:
                position = chunk.last_offset + 1
                seen += added
                seen_bytes += chunk.nbytes - chunk_bytes
            stop = stop_reason(
                position=position, end=budget.end, taken=result.read + batch.messages + len(chunk),
                max_messages=budget.max_messages, past_end=past_end, eof=eof, idle_s=self.clock() - last_message,
            )  # fmt: skip
            if stop == "idle":
                self._log_idle(position, budget.end, last_message)
            end_batch = bool(stop) or budget.batch_full(batch, chunk)
            batch, chunk = self._store(consumer, sinks, batch, chunk, result, end_batch=end_batch)
            if self.clock() - last_progress >= budget.progress_every_s:
                last_progress = self.clock()
                self._log_progress(result, budget, last_progress)
            if stop:
                return stop
        # Stopped by the time budget with a partial batch: store it too.
        self._store(consumer, sinks, batch, chunk, result, end_batch=True)
        return "max_seconds"

    def _store(
        self,
        consumer,
        sinks: list,
        batch: _OpenBatch,
        chunk: Batch,
        result: PartitionResult,
        *,
        end_batch: bool,
    ) -> tuple[_OpenBatch, Batch]:
        """Write the chunk if it is full or the batch ends, store the batch if it ends;
        returns the batch and chunk to fill next (new ones for those written)."""
        if len(chunk) and (end_batch or len(chunk) >= CHUNK_MESSAGES or chunk.nbytes >= CHUNK_BYTES):
            self._write_chunk(sinks, batch, chunk)
            chunk = Batch(self.spec.topic, self.partition)
        if end_batch and batch.messages:
            self._finish_batch(consumer, sinks, batch, result)
            batch = _OpenBatch(self.spec.topic, self.partition)
        return batch, chunk

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

    def _write_chunk(self, sinks: list, batch: _OpenBatch, chunk: Batch) -> None:
        """Steps 1 and 2 for one chunk: COPY it into the open PostgreSQL transaction and
        encode it for ClickHouse's insert at the end of the batch."""
        pg, ch = sinks
        batch.take(chunk)
        t0 = time.perf_counter()
        batch.postgres += self._stage_postgres(pg, ch, chunk, batch)
        t1 = time.perf_counter()
        self._encode_clickhouse(pg, ch, chunk, batch)
        t2 = time.perf_counter()
        self._timings["postgres"] += t1 - t0
        self._timings["clickhouse"] += t2 - t1

    def _finish_batch(self, consumer, sinks: list, batch: _OpenBatch, result: PartitionResult) -> None:
        """The rest of the module docstring's four steps, in their order."""
        pg, ch = sinks
        result.read += batch.messages
        t1 = time.perf_counter()
        ch_result = self._write_clickhouse(pg, ch, batch)
        t2 = time.perf_counter()
        self._commit_postgres(pg, batch.describe())
        t3 = time.perf_counter()
        self._commit_offset(consumer, batch)
        t4 = time.perf_counter()
        timings = result.timings
        timings["postgres"] += self._timings["postgres"] + (t3 - t2)
        timings["clickhouse"] += self._timings["clickhouse"] + (t2 - t1)
        timings["commit"] += t4 - t3
        self._timings = dict.fromkeys(self._timings, 0.0)
        result.add(batch, {"postgres": batch.postgres, "clickhouse": ch_result})
        release_freed_memory()

    def _stage_postgres(self, pg, ch, chunk: Batch, batch: _OpenBatch) -> SinkResult:
        try:
            return pg.stage(chunk, batch.ingested_at, self.dag_run_id)
        except Exception as exc:
            pg.rollback()
            ch.discard()
            raise SinkWriteError(
                f"PostgreSQL write into {self.spec.qualified_table} / {self.spec.qualified_dead_letter_table} "
                f"failed for {batch.describe()}: {exc}. Rolled back; no offset was committed, so a re-run "
                "reads this batch again and loads it once. Check that PostgreSQL is up and the loader role "
                "may write these tables, then clear the task."
            ) from exc

    def _encode_clickhouse(self, pg, ch, chunk: Batch, batch: _OpenBatch) -> None:
        try:
            ch.add(chunk, batch.ingested_at, self.dag_run_id)
        except Exception as exc:
            raise self._clickhouse_failed(pg, ch, batch, exc) from exc

    def _write_clickhouse(self, pg, ch, batch: _OpenBatch) -> SinkResult:
        try:
            return ch.flush()
        except Exception as exc:
            raise self._clickhouse_failed(pg, ch, batch, exc) from exc

    def _clickhouse_failed(self, pg, ch, batch: _OpenBatch, exc: Exception) -> SinkWriteError:
        """Roll the batch back in both sinks; the error to raise."""
        pg.rollback()
        ch.discard()
        return SinkWriteError(
            f"ClickHouse insert into {self.spec.qualified_table} / {self.spec.qualified_dead_letter_table} "
            f"failed for {batch.describe()}: {exc}. PostgreSQL was rolled back and no offset was committed, "
            "so a re-run reads this batch again and loads it once. Check that ClickHouse is up and its user "
            "may insert into these tables, then clear the task."
        )

    def _commit_postgres(self, pg, where: str) -> None:
        try:
            pg.commit()
        except Exception as exc:
            raise SinkWriteError(
                f"PostgreSQL commit failed for {where} in {self.spec.qualified_table}: {exc}. ClickHouse "
                "already holds the batch; no offset was committed, so a re-run reads it again and both "
                "databases skip what they hold. Check PostgreSQL, then clear the task."
            ) from exc

    def _commit_offset(self, consumer, batch: _OpenBatch) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        where = batch.describe()
        offsets = [TopicPartition(batch.topic, batch.partition, batch.next_offset)]
        try:
            committed = with_retries(
                f"commit of {where}", lambda: consumer.commit(offsets=offsets, asynchronous=False)
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
    batch_max_bytes: int | None = None,
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
        batch_max_bytes=batch_max_bytes or spec.batch_max_bytes,
    )
