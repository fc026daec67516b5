"""The drain loop against a fake Kafka partition and fake sinks, no services.

What is checked: the stop rules, the order of a batch's four steps (PostgreSQL write,
ClickHouse write, PostgreSQL commit, Kafka offset commit), that a failure in any step
commits nothing further, and that a re-run after any such failure leaves every message
exactly once in each database. The fakes keep the semantics that matter: PostgreSQL
holds staged rows only once committed, ClickHouse keeps what it inserted, Kafka keeps
the committed offset across runs.
"""

from __future__ import annotations

import gc
import logging

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from kafka_elt.ingest import drain as drain_module
from kafka_elt.ingest.batch import SinkResult
from kafka_elt.ingest.drain import IDLE_TIMEOUT_S, POLL_TIMEOUT_S, _Drain, plan_range, stop_reason
from kafka_elt.ingest.errors import KafkaReadError, OffsetCommitError, SinkWriteError
from kafka_elt.ingest.registry import TopicSpec

GOOD = b'{"link": "/posts/42", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"}'
POISON = b"not json"
SPEC = TopicSpec(topic="web-logs-topic", table="web_logs", kind="footprint")
STEPS = ["pg.stage", "ch.write", "pg.commit", "kafka.commit"]


class Clock:
    """Monotonic time that moves only when the fake Kafka makes the drain wait."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeKafka:
    """One partition: offsets -> values (gaps allowed: transaction markers), watermarks,
    the group's committed offset (kept across runs), and a consumer's position."""

    def __init__(self, world: World, values: dict[int, bytes | None], *, low: int = 0, committed: int = -1,
                 seconds_per_poll: float = 0.1) -> None:  # fmt: skip
        self.world, self.clock = world, world.clock
        self.values = values
        self.low = low
        self.high = max(values, default=low - 1) + 1
        self.committed_offset = committed
        self.seconds_per_poll = seconds_per_poll
        self.reachable_below: int | None = None  # the broker goes away at this offset
        self.on_silence = None  # called on each empty poll (e.g. librdkafka's error_cb)
        self.position: int | None = None
        self.eof_sent_at: int | None = None
        self.closed = False
        self.client_log = None

    # What read_plans calls.
    def committed(self, partitions, timeout):
        offset = self.committed_offset if self.committed_offset >= 0 else -1001
        return [TopicPartition(tp.topic, tp.partition, offset) for tp in partitions]

    def get_watermark_offsets(self, partition, timeout, cached):
        return self.low, self.high

    def assignment(self):
        return [] if self.position is None else [TopicPartition(SPEC.topic, 0, self.position)]

    def poll(self, timeout):
        return None

    # What the drain calls.
    def assign(self, partitions):
        (tp,) = partitions
        self.position = tp.offset

    def consume(self, num_messages, timeout):
        assert timeout == POLL_TIMEOUT_S and num_messages >= 1
        if self.reachable_below is not None and self.position >= self.reachable_below:
            self.clock.now += timeout  # waited the whole poll for nothing
            if self.on_silence:
                self.on_silence(self)
            return []
        self.clock.now += self.seconds_per_poll
        below = self.reachable_below if self.reachable_below is not None else self.high
        offsets = sorted(o for o in self.values if self.position <= o < below)[:num_messages]
        if not offsets:
            if self.eof_sent_at == self.position:
                return []
            self.eof_sent_at = self.position
            return [Message(topic=SPEC.topic, partition=0, offset=self.position,
                            error=KafkaError(KafkaError._PARTITION_EOF))]  # fmt: skip
        self.position = offsets[-1] + 1
        return [Message(topic=SPEC.topic, partition=0, offset=o, value=self.values[o], timestamp=(1, 1))
                for o in offsets]  # fmt: skip

    def commit(self, offsets, asynchronous):
        assert asynchronous is False
        (tp,) = offsets
        if self.world.step("kafka.commit"):
            raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION, "fenced"))
        self.committed_offset = tp.offset
        return offsets

    def close(self):
        self.closed = True


class FakeConnections:
    def __init__(self, kafka: FakeKafka) -> None:
        self.kafka = kafka

    def consumer(self, group_id=None, client_log=None):
        self.kafka.client_log = client_log
        return self.kafka


class Store:
    """A database's raw and dead-letter tables: offsets stored, and how often each was written."""

    def __init__(self) -> None:
        self.raw: list[int] = []
        self.dead: list[int] = []


class FakePostgres:
    """Stages into an open transaction; only commit makes rows stored."""

    def __init__(self, world: World) -> None:
        self.world, self.store = world, world.pg_store
        self.pending: tuple[list, list] | None = None
        self.closed = False

    def stage(self, batch, ingested_at, dag_run_id):
        """One chunk of the open batch (several per transaction)."""
        if self.world.step("pg.stage"):
            raise RuntimeError("disk full")
        self.world.ingested_at.add(("pg", ingested_at))
        raw = [o for o in batch.raw.offsets if o not in self.store.raw]
        dead = [o for o in batch.dead.offsets if o not in self.store.dead]
        pending_raw, pending_dead = self.pending or ([], [])
        self.pending = (pending_raw + raw, pending_dead + dead)
        return SinkResult.of(batch, len(raw), len(dead))

    def commit(self):
        pending, self.pending = self.pending, None  # committed or, failing, gone with the session
        if self.world.step("pg.commit"):
            raise RuntimeError("server closed the connection")
        self.store.raw += pending[0]
        self.store.dead += pending[1]

    def rollback(self):
        self.world.journal.append("pg.rollback")
        self.pending = None

    def close(self):
        self.closed = True


class FakeClickHouse:
    """Keeps what ``add`` gave it until ``flush`` inserts it (what it does not hold yet),
    atomically per batch."""

    def __init__(self, world: World) -> None:
        self.world, self.store = world, world.ch_store
        self.closed = False
        self.discard()

    def add(self, batch, ingested_at, dag_run_id):
        self.world.chunks.append(len(batch))
        self.world.frozen_while_writing.append(gc.get_freeze_count() > 0)
        self.world.ingested_at.add(("ch", ingested_at))
        raw = [o for o in batch.raw.offsets if o not in self.store.raw]
        dead = [o for o in batch.dead.offsets if o not in self.store.dead]
        self.pending[0].extend(raw)
        self.pending[1].extend(dead)
        self.result += SinkResult.of(batch, len(raw), len(dead))

    def flush(self):
        if self.world.step("ch.write"):
            raise RuntimeError("Connection refused")
        self.store.raw += self.pending[0]
        self.store.dead += self.pending[1]
        result = self.result
        self.discard()
        return result

    def discard(self):
        self.pending: tuple[list, list] = ([], [])
        self.result = SinkResult(0, 0, 0, 0)

    def close(self):
        self.closed = True


class World:
    """A fake partition and two fake databases that outlive one drain, as real ones do."""

    def __init__(self, values: dict[int, bytes | None], **kafka) -> None:
        self.journal: list[str] = []
        self.clock = Clock()
        self.pg_store, self.ch_store = Store(), Store()
        self.kafka = FakeKafka(self, values, **kafka)
        self.fail_on: dict[str, int] = {}  # step -> the call of it (1, 2, ...) that raises
        self.sinks: list = []
        self.chunks: list[int] = []  # messages per chunk ClickHouse was given
        self.frozen_while_writing: list[bool] = []
        self.ingested_at: set[tuple] = set()

    def step(self, name: str) -> bool:
        """Journal one step; True when this call of it is the one to fail."""
        self.journal.append(name)
        return self.fail_on.get(name) == self.journal.count(name)

    def _pg(self, connections, spec):
        self.sinks.append(FakePostgres(self))
        return self.sinks[-1]

    def _ch(self, connections, spec):
        self.sinks.append(FakeClickHouse(self))
        return self.sinks[-1]

    def drain(self, *, end_offset=None, max_messages=1000, max_seconds=60.0, batch_size=5,
              batch_max_bytes=64 * 1024 * 1024):  # fmt: skip
        self.kafka.position = self.kafka.eof_sent_at = None  # a new consumer each run
        drain = _Drain(SPEC, 0, "run", FakeConnections(self.kafka), sink_factories=(self._pg, self._ch),
                       clock=self.clock)  # fmt: skip
        return drain.run(end_offset, None, max_messages, max_seconds, batch_size, progress_every_s=3600,
                         batch_max_bytes=batch_max_bytes)  # fmt: skip


def good(n: int, start: int = 0) -> dict[int, bytes]:
    return {o: GOOD for o in range(start, start + n)}


# -- the order of the four steps ---------------------------------------------------------


def test_each_batch_writes_postgres_then_clickhouse_then_commits_postgres_then_kafka():
    world = World(good(12))
    result = world.drain(batch_size=5)
    assert world.journal == STEPS * 3
    assert (result.read, result.committed_offset, result.batches, result.stopped_by) == (12, 12, 3, "end")
    assert world.kafka.committed_offset == 12
    assert world.pg_store.raw == world.ch_store.raw == list(range(12))
    assert result.written == {"postgres": 12, "clickhouse": 12}
    assert all(sink.closed for sink in world.sinks) and world.kafka.closed


@pytest.mark.parametrize("failing", STEPS)
def test_a_failure_in_any_step_commits_nothing_further_and_a_rerun_stores_everything_once(failing):
    world = World(good(15))
    world.fail_on[failing] = 2  # the second batch: the first is stored and committed by then
    expected = OffsetCommitError if failing == "kafka.commit" else SinkWriteError
    with pytest.raises(expected) as failure:
        world.drain(batch_size=5)
    message = str(failure.value)
    assert "topic 'web-logs-topic' partition 0 offsets 5..9" in message
    assert "no offset was committed" in message or "Kafka refused the offset commit (10)" in message

    first, second = world.journal[:4], world.journal[4:]
    assert first == STEPS
    rolled_back = ["pg.rollback"] if failing in ("pg.stage", "ch.write") else []
    assert second == STEPS[: STEPS.index(failing) + 1] + rolled_back  # nothing after it, no third batch
    assert world.kafka.committed_offset == 5  # the last batch both databases hold
    assert all(sink.closed for sink in world.sinks) and world.kafka.closed
    held = {"pg.stage": (5, 5), "ch.write": (5, 5), "pg.commit": (5, 10), "kafka.commit": (10, 10)}
    assert (len(world.pg_store.raw), len(world.ch_store.raw)) == held[failing]

    world.fail_on.clear()
    rerun = world.drain(batch_size=5)
    assert (rerun.start_offset, rerun.committed_offset, rerun.read) == (5, 15, 10)
    for store in (world.pg_store, world.ch_store):
        assert sorted(store.raw) == list(range(15))  # every message exactly once
    for engine in ("postgres", "clickhouse"):
        assert rerun.written[engine] + rerun.skipped_already_stored[engine] == 10
    already = (rerun.skipped_already_stored["postgres"], rerun.skipped_already_stored["clickhouse"])
    assert already == (held[failing][0] - 5, held[failing][1] - 5)


# -- the stop rules ----------------------------------------------------------------------


def test_stop_rules_in_order():
    base = dict(position=5, end=10, taken=5, max_messages=100, past_end=False, eof=False, idle_s=0.0)
    assert stop_reason(**base) is None
    assert stop_reason(**{**base, "position": 10}) == "end"
    assert stop_reason(**{**base, "position": 10, "taken": 100, "eof": True}) == "end"  # the end wins
    assert stop_reason(**{**base, "taken": 100, "past_end": True, "eof": True}) == "max_messages"
    assert stop_reason(**{**base, "past_end": True, "eof": True}) == "end"
    assert stop_reason(**{**base, "eof": True, "idle_s": 99.0}) == "eof"
    assert stop_reason(**{**base, "idle_s": IDLE_TIMEOUT_S}) is None
    assert stop_reason(**{**base, "idle_s": IDLE_TIMEOUT_S + 0.1}) == "idle"


def test_message_budget_stops_with_a_short_last_batch():
    world = World(good(20))
    result = world.drain(max_messages=7, batch_size=5)
    assert (result.read, result.committed_offset, result.batches, result.stopped_by) == (
        7,
        7,
        2,
        "max_messages",
    )
    assert world.journal == STEPS * 2 and world.kafka.committed_offset == 7
    assert result.lag == 13


def test_time_budget_stores_the_partial_batch():
    world = World(good(100), seconds_per_poll=4.0)  # three messages a poll, four seconds each
    world.kafka.consume = limit_per_poll(world.kafka.consume, 3)
    result = world.drain(max_seconds=10.0, batch_size=50)
    # Polls at +4, +8 and +12 s; the budget is checked before each poll, so the third runs.
    # The first asks for one message only (the drain learns the message size from it).
    assert (result.read, result.committed_offset, result.stopped_by) == (7, 7, "max_seconds")
    assert world.journal == STEPS  # the partial batch stored, in one go
    assert world.pg_store.raw == list(range(7)) and world.kafka.committed_offset == 7


def limit_per_poll(consume, n):
    return lambda num_messages, timeout: consume(min(num_messages, n), timeout)


def test_planned_end_past_the_high_watermark_drains_to_the_watermark(caplog):
    world = World(good(10))
    with caplog.at_level(logging.WARNING, logger=drain_module.__name__):
        result = world.drain(end_offset=25)
    assert (result.end_offset, result.committed_offset, result.stopped_by) == (10, 10, "end")
    assert "planned end 25 is past the high watermark 10" in caplog.text


def test_committed_offset_below_the_low_watermark_starts_at_the_low_watermark(caplog):
    world = World(good(10, start=5), low=5, committed=2)
    with caplog.at_level(logging.WARNING, logger=drain_module.__name__):
        result = world.drain()
    assert (result.start_offset, result.read, result.committed_offset) == (5, 10, 15)
    assert (
        "committed offset 2 is below the low watermark 5: 3 messages were deleted by retention" in caplog.text
    )
    assert world.pg_store.raw == list(range(5, 15))


def test_plan_range_without_surprises_is_quiet(caplog):
    with caplog.at_level(logging.WARNING):
        assert plan_range("t", 0, low=0, high=10, committed=-1, end_offset=8) == (0, 8)
        assert plan_range("t", 0, low=3, high=10, committed=6, end_offset=None) == (6, 10)
    assert caplog.text == ""


def test_up_to_date_partition_opens_no_database():
    world = World(good(10), committed=10)
    result = world.drain()
    assert (result.stopped_by, result.read, result.lag) == ("up_to_date", 0, 0)
    assert world.sinks == [] and world.journal == [] and world.kafka.closed


def test_message_past_the_planned_end_is_left_for_the_next_run():
    # Offset 9 is a transaction marker: the next message after 8 is 10, past the planned end.
    world = World({**good(9), 10: GOOD, 11: GOOD})
    result = world.drain(end_offset=10, batch_size=100)
    assert (result.read, result.committed_offset, result.stopped_by) == (9, 9, "end")
    assert 10 not in world.pg_store.raw


def test_end_of_partition_stops_before_the_planned_end():
    # The last offsets hold no message (transaction markers): only the EOF event says so.
    world = World(good(8))
    world.kafka.high = 10
    result = world.drain(end_offset=10, batch_size=100)
    assert (result.read, result.committed_offset, result.stopped_by) == (8, 8, "eof")


def test_idle_partition_stops_and_keeps_what_it_read(caplog):
    world = World(good(10))
    world.kafka.reachable_below = 5
    world.kafka.consume = limit_per_poll(world.kafka.consume, 5)
    with caplog.at_level(logging.WARNING, logger=drain_module.__name__):
        result = world.drain(batch_size=100)
    assert (result.read, result.committed_offset, result.stopped_by) == (5, 5, "idle")
    assert world.clock.now - 1000.0 > IDLE_TIMEOUT_S
    (record,) = [r for r in caplog.records if "no message for" in r.getMessage()]
    assert record.levelno == logging.WARNING  # no broker trouble: a quiet partition


def test_broker_down_until_idle_is_an_error_with_the_clients_story(caplog):
    world = World(good(10))
    world.kafka.reachable_below = 5
    world.kafka.consume = limit_per_poll(world.kafka.consume, 5)

    def broker_down(kafka):
        kafka.client_log.error(KafkaError(KafkaError._TRANSPORT, "127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 "
                                          "failed: Connection refused (after 0ms in state CONNECT)"))  # fmt: skip

    world.kafka.on_silence = broker_down
    with caplog.at_level(logging.WARNING):
        result = world.drain(batch_size=100)
    assert result.stopped_by == "idle" and world.kafka.committed_offset == 5
    (gave_up,) = [r for r in caplog.records if "no message for" in r.getMessage()]
    assert gave_up.levelno == logging.ERROR and "connection error(s)" in gave_up.getMessage()
    transient = [r for r in caplog.records if "unreachable for now" in r.getMessage()]
    # One grouped warning per 10 s, not one line per failed connection attempt.
    assert 3 <= len(transient) <= 5 and all(r.levelno == logging.WARNING for r in transient)


def test_kafka_read_error_names_the_partition_and_the_last_commit():
    world = World(good(10))

    def broken(num_messages, timeout):
        raise KafkaException(KafkaError(KafkaError._FATAL, "fenced"))

    world.kafka.consume = broken
    with pytest.raises(
        KafkaReadError, match=r"reading web-logs-topic\[0\] at offset 0 failed.*after offset 0"
    ):
        world.drain()
    assert world.journal == [] and all(sink.closed for sink in world.sinks)


def test_poison_is_counted_apart_and_every_message_once_per_engine():
    world = World({0: GOOD, 1: POISON, 2: GOOD, 3: None, 4: GOOD})
    result = world.drain(batch_size=2)
    assert (result.read, result.dead_lettered) == (5, 2)
    assert result.written == {"postgres": 3, "clickhouse": 3}
    assert world.pg_store.dead == world.ch_store.dead == [1, 3]
    world.kafka.committed_offset = -1  # the group reset: everything again
    again = world.drain(batch_size=2)
    assert again.written == {"postgres": 0, "clickhouse": 0}
    assert again.skipped_already_stored == {"postgres": 3, "clickhouse": 3} and again.dead_lettered == 2
    for engine in ("postgres", "clickhouse"):
        assert (
            again.written[engine] + again.skipped_already_stored[engine] + again.dead_lettered == again.read
        )
    assert "read 5: written 0 (PostgreSQL) / 0 (ClickHouse), skipped as already stored 3" in again.line()


# -- chunks within a batch, the byte cap, the garbage collector -------------------------


def test_a_batch_is_written_in_chunks_inside_one_transaction_and_committed_once(monkeypatch):
    monkeypatch.setattr(drain_module, "CHUNK_MESSAGES", 2)
    world = World(good(12))
    result = world.drain(batch_size=5)
    # Chunks of 2, 2 and 1 per batch of 5: each staged in PostgreSQL as it is read, then
    # one ClickHouse insert, one PostgreSQL commit and one offset commit per batch.
    batch = ["pg.stage"] * 3 + STEPS[1:]
    assert world.journal == batch * 2 + ["pg.stage"] + STEPS[1:]
    assert world.chunks == [2, 2, 1, 2, 2, 1, 2]
    assert (result.read, result.committed_offset, result.batches) == (12, 12, 3)
    assert world.pg_store.raw == world.ch_store.raw == list(range(12))
    assert result.written == {"postgres": 12, "clickhouse": 12}
    # One load time per batch, the same in both engines.
    assert len({at for _, at in world.ingested_at}) == 3 and len(world.ingested_at) == 6


def test_a_failure_in_a_later_chunk_rolls_back_the_whole_batch_and_a_rerun_stores_it_once(monkeypatch):
    monkeypatch.setattr(drain_module, "CHUNK_MESSAGES", 2)
    world = World(good(10))
    world.fail_on["pg.stage"] = 5  # the second chunk of the second batch
    with pytest.raises(
        SinkWriteError, match=r"offsets 5\.\.8 \(4 valid, 0 poison\).*no offset was committed"
    ):
        world.drain(batch_size=5)
    assert world.journal[-2:] == ["pg.stage", "pg.rollback"]
    assert world.kafka.committed_offset == 5 and world.pg_store.raw == world.ch_store.raw == list(range(5))
    world.fail_on.clear()
    rerun = world.drain(batch_size=5)
    assert (rerun.read, rerun.committed_offset) == (5, 10)
    assert world.pg_store.raw == world.ch_store.raw == list(range(10))


def test_a_batch_also_ends_at_its_byte_cap():
    world = World(good(10))
    # GOOD is 89 bytes: the third message takes a batch past 200 bytes.
    result = world.drain(batch_size=100, batch_max_bytes=200)
    assert len(GOOD) == 89
    assert (result.read, result.batches, world.kafka.committed_offset) == (10, 4, 10)
    assert world.journal == STEPS * 4


def test_objects_from_before_the_drain_are_frozen_while_it_runs_only():
    world = World(good(3))
    world.drain()
    assert world.frozen_while_writing == [True]
    assert gc.get_freeze_count() == 0


def test_releasing_freed_memory_is_safe_to_call_repeatedly():
    for _ in range(3):
        drain_module.release_freed_memory()
