"""Freshness benchmark: how long an event takes to reach the marts, as a user sees it.

    make bench-freshness                                    # or:
    .venv/bin/python bench/freshness.py                     # --rate 500 --duration 600
    .venv/bin/python bench/freshness.py --rate 50 --duration 60 --json freshness.json

What it measures: the running pipeline, untouched. It produces a steady stream, --rate
messages/s into EACH topic of the registry (paced in 0.1 s slices), with the project's
own producer code: live random-walk candles into market_candle (every message re-sends
the current minute's candle, keyed by code) and page visits into web-logs-topic
(footprint_time = now). The event-driven ingest DAGs load them into the raw tables and
dbt_marts builds the marts; the script never triggers anything. Every --sample-interval
seconds it asks each engine, per partition, for the highest Kafka offset of this run in
each raw table and in analytics.user_footprint / analytics.market_candle. A message is
"in" a table from the first sample in which its partition's highest offset reached its
own; its latency is that sample's wall time minus its event time (footprint_time for
page visits; for candles the Kafka message timestamp, which the script sets to the
produce time: a candle carries only the minute it belongs to).

How to read it: p50 / p95 / max per engine and topic are the staleness a dashboard
reader sees: producer batching, the watcher noticing the lag, the ingest run, the
dbt_marts run, plus up to one sample interval of measuring granularity. The raw-table
rows show how much of that is ingestion. For market_candle, "in the mart" means the
mart shows that message or a later update of the same candle (the latest message wins).
The stack's CPU (cores used on average), the machine's load and the DAG runs of the
window say under what conditions the figures were taken. Exit status 1 when a produced
message is missing from a mart after --settle (the script prints which), a mart holds a
message twice, a candle row is not its latest message, or a delivery failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import sys
import threading
import time
from array import array
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise

from stack_cpu import machine_busy_seconds, stack_cpu_seconds  # bench/, beside this script

from kafka_elt.producers.candles import CODES, SampleCandle, envelope_json, payload_json
from kafka_elt.producers.footprints import footprint_json, footprints, format_time
from kafka_elt.producers.kafka import DeliveryTracker, make_producer
from kafka_elt.stack.config import StackConfig

SLICE_S = 0.1
PROGRESS_EVERY_S = 10.0
CHECK_RETRY_S = 5.0
# The mart each registry kind ends in (dbt/models/marts/core).
MARTS = {"footprint": "analytics.user_footprint", "market_candle": "analytics.market_candle"}
# As kafka_elt.producers.sample: a share of the candles is the bare payload, no envelope.
SCHEMALESS_SHARE = 0.2
# Besides the ingest DAGs: the DAGs that run (and use CPU) because of them.
DOWNSTREAM_DAGS = ("dbt_marts", "dashboard_benchmark")


# --- messages -------------------------------------------------------------------------


def _tick(price: float) -> float:
    return round(price, 2 if price >= 10 else 5)  # as the candle simulator's tick sizes


@dataclass
class _OpenCandle:
    timestamp: int
    open: float
    high: float
    low: float
    volume: float = 0.0
    turnover: float = 0.0


class LiveCandles:
    """Random-walk candles of the wall-clock minute, one update per call, codes in turn.

    The walk is CandleSimulator's (kafka_elt.producers.candles); the candle is the one
    of the minute ``now`` falls in, re-sent with the prices and volume so far.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.price = dict(CODES)
        self.codes = list(CODES)
        self.turn = 0
        self.current: dict[str, _OpenCandle] = {}

    def next(self, now_s: int) -> SampleCandle:
        code = self.codes[self.turn % len(self.codes)]
        self.turn += 1
        minute = now_s - now_s % 60
        c = self.current.get(code)
        if c is None or c.timestamp != minute:
            p = self.price[code]
            c = self.current[code] = _OpenCandle(minute, p, p, p)
        price = max(c.open * 0.5, self.price[code] * (1.0 + self.rng.gauss(0.0, 0.0012)))
        self.price[code] = price
        c.high, c.low = max(c.high, price), min(c.low, price)
        traded = self.rng.expovariate(1.0) * 1000.0 / c.open
        c.volume += traded
        c.turnover += traded * price
        return SampleCandle(
            code=code,
            timestamp=minute,
            opening_price=_tick(c.open),
            high_price=_tick(c.high),
            low_price=_tick(c.low),
            trade_price=_tick(price),
            candle_acc_trade_volume=round(c.volume, 8),
            candle_acc_trade_price=round(c.turnover, 4),
        )


class LiveFootprints:
    """Page visits of kafka_elt.producers.footprints (links, methods, time zones), at ``now``."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.events = footprints(seed=seed)

    def next(self, now: datetime) -> str:
        event = next(self.events)
        offset = datetime.fromisoformat(event["footprint_time"]).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        # 3 or 6 fractional digits: the footprint_time holds the event time to the millisecond.
        stamped = format_time(now, minutes, self.rng.choice((3, 6)))
        return footprint_json({**event, "footprint_time": stamped})


def message_source(kind: str, seed: int) -> Callable[[int], tuple[bytes | None, bytes]]:
    """(key, value) of one event at ``now_ms`` for a registry kind."""
    rng = random.Random(seed)
    if kind == "market_candle":
        candles = LiveCandles(rng)

        def candle(now_ms: int) -> tuple[bytes | None, bytes]:
            c = candles.next(now_ms // 1000)
            text = payload_json(c) if rng.random() < SCHEMALESS_SHARE else envelope_json(c)
            return c.code.encode(), text.encode()  # keyed by code, as the sample producer

        return candle
    if kind == "footprint":
        visits = LiveFootprints(rng, seed)
        return lambda now_ms: (None, visits.next(datetime.fromtimestamp(now_ms / 1000, UTC)).encode())
    raise SystemExit(f"freshness: no message source for registry kind {kind!r}")


class Ledger(DeliveryTracker):
    """Every delivered message: per (topic, partition) its offsets and event times (ms).

    One idempotent producer delivers each partition in offset order, so the arrays are
    sorted by offset. For the candle topic, also the last (partition, offset) sent of
    every candle (code, minute): the message the mart must show.
    """

    def __init__(self, candle_topic: str | None) -> None:
        super().__init__()
        self.offsets: dict[tuple[str, int], array] = defaultdict(lambda: array("q"))
        self.event_ms: dict[tuple[str, int], array] = defaultdict(lambda: array("q"))
        self.delivered: Counter[str] = Counter()
        self.candle_topic = candle_topic
        self.candle_last: dict[tuple[str, int], tuple[int, int]] = {}

    def __call__(self, err, msg) -> None:
        if err is not None:
            super().__call__(err, msg)
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        event_ms = msg.timestamp()[1]
        self.offsets[(topic, partition)].append(offset)
        self.event_ms[(topic, partition)].append(event_ms)
        self.delivered[topic] += 1
        if topic == self.candle_topic:
            candle = (msg.key().decode(), event_ms // 60_000 * 60)
            last = self.candle_last.get(candle)
            if last is None or last[0] != partition or last[1] < offset:
                self.candle_last[candle] = (partition, offset)

    def partitions(self, topic: str) -> list[int]:
        return sorted(p for t, p in self.offsets if t == topic)

    def ensure_sorted(self) -> None:
        for key, offsets in self.offsets.items():
            if any(a >= b for a, b in pairwise(offsets)):
                pairs = sorted(zip(offsets, self.event_ms[key], strict=True))
                self.offsets[key] = array("q", (o for o, _ in pairs))
                self.event_ms[key] = array("q", (e for _, e in pairs))


def produce_paced(producer, ledger: Ledger, sources: dict, rate: float, duration: float, tick) -> Counter:
    """Produce ``rate`` messages/s into every topic of ``sources`` for ``duration`` seconds."""
    sent: Counter[str] = Counter()
    started = time.monotonic()
    while True:
        elapsed = min(time.monotonic() - started, duration)
        for topic, source in sources.items():
            for _ in range(int(rate * elapsed) - sent[topic]):
                now_ms = int(time.time() * 1000)
                key, value = source(now_ms)
                _produce_one(producer, topic, key, value, now_ms)
                sent[topic] += 1
        producer.poll(0)
        tick(elapsed, sent)
        if elapsed >= duration:
            return sent
        time.sleep(max(0.0, SLICE_S - (time.monotonic() - started - elapsed)))


def _produce_one(producer, topic: str, key, value: bytes, now_ms: int) -> None:
    while True:
        try:
            # The Kafka timestamp is the event time: the candles' only one.
            producer.produce(topic, value, key, timestamp=now_ms)
            return
        except BufferError:
            producer.poll(0.05)  # local queue full: let librdkafka ship batches


# --- what is sampled ------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One table sampled in both engines: a topic's raw table or the mart built from it."""

    layer: str  # "raw" or "mart"
    topic: str
    kind: str
    table: str
    start: tuple[tuple[int, int], ...]  # (partition, first offset of this run)
    since_s: int  # wall time the run started (epoch seconds)

    @property
    def key(self) -> str:
        return f"{self.layer}:{self.topic}"

    @property
    def candle_mart(self) -> bool:
        return self.layer == "mart" and self.kind == "market_candle"

    @property
    def since_minute(self) -> int:
        return self.since_s - self.since_s % 60

    @property
    def since_day(self) -> date:
        return datetime.fromtimestamp(self.since_s, UTC).date()


def start_offsets(bootstrap: str, topics: list[str]) -> dict[str, tuple[tuple[int, int], ...]]:
    """Each partition's high watermark now: the first offset this run will write."""
    from confluent_kafka import Consumer, TopicPartition

    # Never subscribes nor commits: reads metadata and watermarks only.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "freshness-bench-probe",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        metadata = consumer.list_topics(timeout=10)
        starts = {}
        for topic in topics:
            if topic not in metadata.topics or metadata.topics[topic].error is not None:
                raise SystemExit(f"freshness: topic {topic!r} does not exist; is the stack up (make up)?")
            partitions = sorted(metadata.topics[topic].partitions)
            starts[topic] = tuple(
                (p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1])
                for p in partitions
            )
        return starts
    finally:
        consumer.close()


def build_targets(specs, starts: dict, since_s: int) -> list[Target]:
    targets = []
    for spec in specs:
        for layer, table in (("raw", spec.qualified_table), ("mart", MARTS[spec.kind])):
            targets.append(Target(layer, spec.topic, spec.kind, table, starts[spec.topic], since_s))
    return targets


class PostgresProbe:
    """Cheap reads of the warehouse as the loader role (autocommit: no long transaction)."""

    engine = "postgres"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self._conn = None

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        from kafka_elt.stack import postgres

        try:
            if self._conn is None:
                cfg = self.cfg
                self._conn = postgres.connect(
                    cfg, cfg["WAREHOUSE_DB"], cfg["LOADER_USER"], cfg["LOADER_PASSWORD"]
                )
                self._conn.autocommit = True
            with self._conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        except Exception:
            self.close()  # reconnect on the next call
            raise

    def ping(self) -> None:
        self._query("select 1", ())

    def max_offsets(self, target: Target) -> dict[int, int]:
        """Per partition, the highest offset of this run in the table (primary / unique index)."""
        parts = [p for p, _ in target.start]
        firsts = [o for _, o in target.start]
        if target.candle_mart:
            sql = (f"select m.kafka_partition, max(m.kafka_offset) from {target.table} as m "
                   "join unnest(%s::int[], %s::bigint[]) as s(p, o) on m.kafka_partition = s.p "
                   'and m.kafka_offset >= s.o where m.code = any(%s) and m."timestamp" >= %s '
                   "group by m.kafka_partition")  # fmt: skip
            params = (parts, firsts, list(CODES), target.since_minute)
        else:
            sql = (f"select s.p, (select max(kafka_offset) from {target.table} where kafka_topic = %s "
                   "and kafka_partition = s.p and kafka_offset >= s.o) "
                   "from unnest(%s::int[], %s::bigint[]) as s(p, o)")  # fmt: skip
            params = (target.topic, parts, firsts)
        return {p: m for p, m in self._query(sql, params) if m is not None}

    def offset_counts(self, target: Target, partition: int, lo: int, hi: int) -> Counter:
        sql = (f"select kafka_offset, count(*) from {target.table} where kafka_topic = %s "
               "and kafka_partition = %s and kafka_offset between %s and %s group by kafka_offset")  # fmt: skip
        return Counter(dict(self._query(sql, (target.topic, partition, lo, hi))))

    def candle_rows(self, target: Target, lo: int, hi: int) -> list[tuple]:
        sql = (f'select code, "timestamp", kafka_partition, kafka_offset from {target.table} '
               'where code = any(%s) and "timestamp" between %s and %s')  # fmt: skip
        return self._query(sql, (list(CODES), lo, hi))

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class ClickHouseProbe:
    """The same reads in ClickHouse, on each table's sorting key, without FINAL (as users read)."""

    engine = "clickhouse"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self._client = None

    def _query(self, sql: str, params: dict) -> list[tuple]:
        from kafka_elt.stack import clickhouse

        try:
            if self._client is None:
                self._client = clickhouse.client(self.cfg)
            return self._client.query(sql, parameters=params).result_rows
        except Exception:
            self.close()
            raise

    @staticmethod
    def _where(target: Target) -> str:
        """The cheap leading condition of each table's sorting key, then this run's offsets."""
        offsets = " or ".join(
            f"(kafka_partition = {int(p)} and kafka_offset >= {int(o)})" for p, o in target.start
        )
        if target.candle_mart:  # order by (code, timestamp)
            lead = "code in {codes:Array(String)} and `timestamp` >= {since:Int64}"
        elif target.layer == "mart":  # order by (visit_date, link_path, topic, partition, offset)
            lead = "visit_date >= {day:Date} and kafka_topic = {topic:String}"
        else:  # order by (kafka_topic, kafka_partition, kafka_offset)
            lead = "kafka_topic = {topic:String}"
        return f"{lead} and ({offsets})"

    @staticmethod
    def _params(target: Target) -> dict:
        return {
            "codes": list(CODES),
            "since": target.since_minute,
            "day": target.since_day,
            "topic": target.topic,
        }

    def ping(self) -> None:
        self._query("select 1", {})

    def max_offsets(self, target: Target) -> dict[int, int]:
        sql = (f"select kafka_partition, max(kafka_offset) from {target.table} "
               f"where {self._where(target)} group by kafka_partition")  # fmt: skip
        return {int(p): int(m) for p, m in self._query(sql, self._params(target))}

    def offset_counts(self, target: Target, partition: int, lo: int, hi: int) -> Counter:
        sql = (f"select kafka_offset, count() from {target.table} where {self._where(target)} "
               f"and kafka_partition = {int(partition)} and kafka_offset between {int(lo)} and {int(hi)} "
               "group by kafka_offset")  # fmt: skip
        return Counter({int(o): int(n) for o, n in self._query(sql, self._params(target))})

    def candle_rows(self, target: Target, lo: int, hi: int) -> list[tuple]:
        sql = (f"select code, `timestamp`, kafka_partition, kafka_offset from {target.table} "
               f"where code in {{codes:Array(String)}} and `timestamp` between {int(lo)} and {int(hi)}")  # fmt: skip
        return self._query(sql, self._params(target))

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None


class Sampler(threading.Thread):
    """Every ``interval`` s, one engine's highest offset per partition of every target."""

    def __init__(self, probe, targets: list[Target], interval: float, stop: threading.Event) -> None:
        super().__init__(name=f"sample-{probe.engine}", daemon=True)
        self.probe, self.targets, self.interval, self.stop = probe, targets, interval, stop
        # target key -> [(wall time the query was sent, {partition: highest offset})]
        self.samples: dict[str, list[tuple[float, dict[int, int]]]] = {t.key: [] for t in targets}
        self.query_s: list[float] = []
        self.errors = self.errors_reported = 0
        self.last_error: str | None = None

    def run(self) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            for target in self.targets:
                self.sample(target)
            due = max(due + self.interval, time.monotonic())
            self.stop.wait(due - time.monotonic())

    def sample(self, target: Target) -> None:
        sent = time.time()
        try:
            maxes = self.probe.max_offsets(target)
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{target.table}: {_first_line(exc)}"
            return
        self.query_s.append(time.time() - sent)
        self.samples[target.key].append((sent, maxes))

    def latest(self, target: Target) -> dict[int, int] | None:
        samples = self.samples[target.key]
        return samples[-1][1] if samples else None


def _first_line(exc: BaseException, limit: int = 160) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:limit]}"


# --- latency --------------------------------------------------------------------------


def arrival_latencies(
    samples: list[tuple[float, dict[int, int]]], partition: int, offsets, event_ms
) -> list[float]:
    """Latency of each message of one partition, up to the first one never seen.

    A message is in the table from the first sample whose highest offset (running max:
    a ClickHouse delete+insert can hide a row for a moment) reached its offset.
    """
    latencies: list[float] = []
    best, j = -1, 0
    for offset, event in zip(offsets, event_ms, strict=True):
        while best < offset and j < len(samples):
            best = max(best, samples[j][1].get(partition, -1))
            j += 1
        if best < offset:
            break
        latencies.append(samples[j - 1][0] - event / 1000)
    return latencies


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    return values[max(0, math.ceil(q * len(values)) - 1)]


def latency_figures(sampler: Sampler, target: Target, ledger: Ledger) -> dict:
    latencies: list[float] = []
    for p in ledger.partitions(target.topic):
        key = (target.topic, p)
        latencies += arrival_latencies(
            sampler.samples[target.key], p, ledger.offsets[key], ledger.event_ms[key]
        )
    latencies.sort()
    return {
        "engine": sampler.probe.engine,
        "layer": target.layer,
        "table": target.table,
        "topic": target.topic,
        "produced": ledger.delivered[target.topic],
        "seen": len(latencies),
        "p50_s": percentile(latencies, 0.50),
        "p95_s": percentile(latencies, 0.95),
        "max_s": latencies[-1] if latencies else None,
        "mean_s": sum(latencies) / len(latencies) if latencies else None,
    }


def status(
    maxes: dict[int, int] | None, target: Target, ledger: Ledger
) -> tuple[int, int | None, int | None]:
    """(messages seen, event ms of the newest seen, of the oldest not yet seen) per a sample."""
    seen, newest, oldest_missing = 0, None, None
    for p in ledger.partitions(target.topic):
        offsets, events = ledger.offsets[(target.topic, p)], ledger.event_ms[(target.topic, p)]
        i = bisect_right(offsets, (maxes or {}).get(p, -1))
        seen += i
        if i:
            newest = max(newest or 0, events[i - 1])
        if i < len(offsets):
            oldest_missing = min(oldest_missing or events[i], events[i])
    return seen, newest, oldest_missing


def all_seen(samplers: list[Sampler], targets: list[Target], ledger: Ledger) -> bool:
    for sampler in samplers:
        for target in targets:
            _, _, oldest_missing = status(sampler.latest(target), target, ledger)
            if oldest_missing is not None:
                return False
    return True


def _target_status(now: float, maxes: dict[int, int] | None, target: Target, ledger: Ledger) -> str:
    seen, newest, oldest = status(maxes, target, ledger)
    text = f"{target.topic} {seen:,} seen"
    if newest is not None:
        text += f" (newest {now - newest / 1000:.1f}s old)"
    # lag: how old the oldest message not there yet is (0 when everything produced is there)
    return text + f", lag {0.0 if oldest is None else now - oldest / 1000:.1f}s"


def print_progress(elapsed: float, sent: Counter, ledger: Ledger, samplers: list[Sampler], targets) -> None:
    now = time.time()
    produced = ", ".join(f"{t} {ledger.delivered[t]:,}/{sent[t]:,}" for t in sent)
    print(f"[{elapsed:5.0f}s] delivered/produced {produced}; load {os.getloadavg()[0]:.2f}", flush=True)
    for sampler in samplers:
        for layer in ("raw", "mart"):
            parts = [_target_status(now, sampler.latest(t), t, ledger) for t in targets if t.layer == layer]
            print(f"    {sampler.probe.engine:10} {layer:4} " + "; ".join(parts), flush=True)
        if sampler.errors > sampler.errors_reported:
            print(f"    {sampler.probe.engine:10} {sampler.errors - sampler.errors_reported} failed samples, "
                  f"last: {sampler.last_error}", flush=True)  # fmt: skip
            sampler.errors_reported = sampler.errors


# --- checks ---------------------------------------------------------------------------


def ranges(offsets, limit: int = 20) -> str:
    """1,2,3,7 -> '1-3, 7' (at most ``limit`` ranges)."""
    spans: list[list[int]] = []
    for o in sorted(offsets):
        if spans and o == spans[-1][1] + 1:
            spans[-1][1] = o
        else:
            spans.append([o, o])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans[:limit])
    return text + (f", ... ({len(spans) - limit} more ranges)" if len(spans) > limit else "")


def _offset_list(found: dict[int, list[int]]) -> dict[str, dict]:
    """{partition: offsets} -> printable, JSON-able {partition: {count, offsets as ranges}}."""
    return {str(p): {"count": len(o), "offsets": ranges(o)} for p, o in found.items() if o}


def unseen(sampler: Sampler, target: Target, ledger: Ledger) -> dict[str, dict]:
    """Offsets per partition above the last sample's highest offset."""
    maxes = sampler.latest(target) or {}
    found = {}
    for p in ledger.partitions(target.topic):
        offsets = ledger.offsets[(target.topic, p)]
        found[p] = list(offsets[bisect_right(offsets, maxes.get(p, -1)) :])
    return _offset_list(found)


def check_footprints(probe, target: Target, ledger: Ledger) -> dict:
    """Every produced message exactly once: its (partition, offset) present, and once."""
    produced = rows = 0
    missing: dict[int, list[int]] = {}
    doubled: dict[int, list[int]] = {}
    for p in ledger.partitions(target.topic):
        offsets = ledger.offsets[(target.topic, p)]
        counts = probe.offset_counts(target, p, offsets[0], offsets[-1])
        produced += len(offsets)
        rows += sum(counts.get(o, 0) for o in offsets)
        missing[p] = [o for o in offsets if o not in counts]
        doubled[p] = [o for o in offsets if counts.get(o, 0) > 1]
    missing_, doubled_ = _offset_list(missing), _offset_list(doubled)
    return {"engine": probe.engine, "table": target.table, "check": "every message exactly once",
            "expected": produced, "rows": rows, "missing": missing_, "doubled": doubled_,
            "ok": not missing_ and not doubled_ and rows == produced}  # fmt: skip


def check_candles(probe, target: Target, ledger: Ledger) -> dict:
    """One row per candle produced, showing the candle's last message."""
    expected = ledger.candle_last
    minutes = [ts for _, ts in expected]
    rows = [r for r in probe.candle_rows(target, min(minutes), max(minutes)) if (r[0], int(r[1])) in expected]
    present = Counter((code, int(ts)) for code, ts, _, _ in rows)
    latest = sum(1 for code, ts, p, o in rows if expected[(code, int(ts))] == (int(p), int(o)))
    missing = [f"{code}@{ts}" for code, ts in sorted(set(expected) - set(present))]
    doubled = [f"{code}@{ts}" for (code, ts), n in sorted(present.items()) if n > 1]
    return {"engine": probe.engine, "table": target.table, "check": "one row per candle, its latest message",
            "expected": len(expected), "rows": len(rows), "rows_with_latest_message": latest,
            "missing": missing, "doubled": doubled,
            "ok": not missing and not doubled and latest == len(expected) == len(rows)}  # fmt: skip


def _check(probe, target: Target, ledger: Ledger) -> dict:
    check = check_candles if target.candle_mart else check_footprints
    try:
        return check(probe, target, ledger)
    except Exception as exc:
        return {"engine": probe.engine, "table": target.table, "check": "query failed",
                "error": _first_line(exc), "ok": False}  # fmt: skip


def run_checks(probes: dict, targets: list[Target], ledger: Ledger) -> list[dict]:
    """The checks of every mart in both engines. A failed one is checked once more after
    CHECK_RETRY_S: a dbt run finishing at that moment (ClickHouse's delete+insert hides
    the rows it replaces for a moment) is not a lost message; the report says so."""
    checks = []
    for probe in probes.values():
        for target in (t for t in targets if t.layer == "mart" and ledger.delivered[t.topic]):
            result = _check(probe, target, ledger)
            if not result["ok"]:
                time.sleep(CHECK_RETRY_S)
                result = {**_check(probe, target, ledger), "first_attempt": result}
            checks.append(result)
    return checks


# --- the conditions: CPU, load, DAG runs ----------------------------------------------


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Snapshot:
    wall: float
    stack: dict[str, float]
    busy: float
    own: float

    @classmethod
    def take(cls, cfg: StackConfig) -> Snapshot:
        return cls(time.time(), stack_cpu_seconds(cfg), machine_busy_seconds(), own_cpu_seconds())


def cpu_figures(first: Snapshot, last: Snapshot) -> dict:
    wall = last.wall - first.wall
    services = {n: last.stack[n] - first.stack.get(n, 0.0) for n in last.stack}
    stack = sum(services.values())
    return {
        "seconds": wall,
        "stack_cpu_s": stack,
        "stack_cores": stack / wall,
        "per_service_cpu_s": services,
        "machine_busy_cpu_s": last.busy - first.busy,
        "machine_busy_cores": (last.busy - first.busy) / wall,
        "this_script_cpu_s": last.own - first.own,
        "cores": os.cpu_count(),
    }


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _runs_since(api, dag_id: str, since: datetime) -> list[dict]:
    """Every run of ``dag_id`` started (or queued) since ``since``, newest first, paging."""
    found: list[dict] = []
    page = api.runs(dag_id, limit=100)
    while page:
        for run in page:
            started = _parse_time(run.get("start_date") or run.get("queued_at"))
            if started is None or started >= since:
                found.append(run)
        oldest = _parse_time(page[-1].get("start_date"))
        if len(page) < 100 or (oldest is not None and oldest < since):
            break
        path = f"/dags/{dag_id}/dagRuns?order_by=-start_date&limit=100&offset={len(found)}"
        page = api.request("GET", path)["dag_runs"]
    return found


def dag_run_figures(cfg: StackConfig, dag_ids: list[str], since: datetime) -> dict:
    from kafka_elt.stack.airflow import AirflowApi

    try:
        api = AirflowApi(cfg)
    except Exception as exc:
        return {"error": f"Airflow API: {type(exc).__name__}: {exc}"}
    figures = {}
    for dag_id in dag_ids:
        try:
            runs = _runs_since(api, dag_id, since)
        except Exception as exc:
            figures[dag_id] = {"error": _first_line(exc)}
            continue
        durations = sorted(
            (_parse_time(r["end_date"]) - _parse_time(r["start_date"])).total_seconds()
            for r in runs
            if r.get("end_date") and r.get("start_date")
        )
        figures[dag_id] = {
            "runs": len(runs),
            "run_types": dict(Counter(r.get("run_type") for r in runs)),
            "states": dict(Counter(r.get("state") for r in runs)),
            "median_duration_s": percentile(durations, 0.5),
            "max_duration_s": durations[-1] if durations else None,
        }
    return figures


# --- report ---------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_latency(report: dict) -> None:
    print(f"\n{'engine':10} {'layer':5} {'topic':16} {'produced':>9} {'seen':>9} "
          f"{'p50 s':>7} {'p95 s':>7} {'max s':>7}  table")  # fmt: skip
    for f in report["latency"]:
        print(f"{f['engine']:10} {f['layer']:5} {f['topic']:16} {f['produced']:>9,} {f['seen']:>9,} "
              f"{_s(f['p50_s']):>7} {_s(f['p95_s']):>7} {_s(f['max_s']):>7}  {f['table']}")  # fmt: skip
    print(f"(latency: first sample showing the message minus its event time; one sample every "
          f"{report['options']['sample_interval']:g}s per engine, so up to that much is measuring granularity)")  # fmt: skip


def _print_found(label: str, found) -> None:
    if isinstance(found, dict):
        for p, f in found.items():
            print(f"    {label} in partition {p}: {f['count']:,} offsets: {f['offsets']}")
    elif found:
        print(f"    {label} candles (code@minute): {len(found)}: {', '.join(found[:20])}")


def print_checks(checks: list[dict]) -> None:
    print()
    for c in checks:
        if "error" in c:
            print(f"check  {c['engine']:10} {c['table']}: FAILED to query: {c['error']}")
            continue
        latest = c.get("rows_with_latest_message")
        extra = "" if latest is None else f", {latest:,} showing the candle's latest message"
        print(f"check  {c['engine']:10} {c['table']}: {c['check']}: expected {c['expected']:,}, "
              f"rows {c['rows']:,}{extra}: {'OK' if c['ok'] else 'FAILED'}")  # fmt: skip
        _print_found("missing", c["missing"])
        _print_found("doubled", c["doubled"])
        if "first_attempt" in c:
            print(f"    (checked twice, {CHECK_RETRY_S:g}s apart; the first attempt failed)")


def print_dag_runs(runs: dict) -> None:
    if "error" in runs:
        print(f"DAG runs      not available: {runs['error']}")
        return
    for dag_id, f in runs.items():
        if "error" in f:
            print(f"DAG runs      {dag_id:22} not available: {f['error']}")
            continue
        kinds = ", ".join(f"{k} {n}" for k, n in f["run_types"].items()) or "-"
        states = ", ".join(f"{k} {n}" for k, n in f["states"].items()) or "-"
        manual = "  <-- MANUAL RUNS in the window" if f["run_types"].get("manual") else ""
        print(f"DAG runs      {dag_id:22} {f['runs']:3} ({kinds}; {states}); duration median "
              f"{_s(f['median_duration_s'])} s, max {_s(f['max_duration_s'])} s{manual}")  # fmt: skip


def print_conditions(report: dict) -> None:
    run, producing, load = report["cpu_whole_run"], report["cpu_while_producing"], report["load_average_1min"]
    services = ", ".join(f"{n} {s:.0f}" for n, s in sorted(run["per_service_cpu_s"].items()))
    print(f"\nstack CPU     {producing['stack_cores']:.2f} cores on average while producing "
          f"({producing['seconds']:.0f}s), {run['stack_cores']:.2f} over the whole run "
          f"({run['seconds']:.0f}s, {run['stack_cpu_s']:.0f} CPU-s: {services})")  # fmt: skip
    print(f"machine       {run['cores']} cores, {run['machine_busy_cores']:.2f} busy on average over the run "
          f"({run['machine_busy_cpu_s']:.0f} CPU-s: the stack {run['stack_cpu_s']:.0f}, this script "
          f"{run['this_script_cpu_s']:.0f}, other processes {run['other_cpu_s']:.0f}); "
          f"1-min load average mean {load['mean']:.2f}, max {load['max']:.2f}")  # fmt: skip
    print_dag_runs(report["dag_runs"])
    for engine, q in report["sampling"].items():
        errors = f" (last: {q['last_error']})" if q["failed"] else ""
        print(f"sampling      {engine:10} {q['queries']:,} queries answered, median {_s(q['median_ms'])} ms, "
              f"p95 {_s(q['p95_ms'])} ms, {q['failed']} failed{errors}")  # fmt: skip


def print_report(report: dict) -> None:
    print_latency(report)
    print_checks(report["checks"])
    print_conditions(report)
    delivery = report["delivery"]
    if delivery["failed"] or delivery["undelivered"]:
        print(f"DELIVERY FAILED: {delivery['failed']} failed, {delivery['undelivered']} undelivered; "
              f"first error: {delivery['first_error']}")  # fmt: skip
    for where, partitions in report["not_in_mart"].items():
        for p, f in partitions.items():
            print(f"MISSING from the {where} mart, partition {p}: {f['count']:,} messages: {f['offsets']}")
    print(f"\nfreshness: {'OK' if report['ok'] else 'FAILED'}")


# --- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s per topic (default 500)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of producing (default 600)")
    parser.add_argument(
        "--sample-interval", type=float, default=1.0, help="seconds between samples (default 1)"
    )
    parser.add_argument("--settle", type=float, default=300.0,
                        help="max seconds to wait after producing for the last messages (default 300)")  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--seed", type=int, default=None, help="make the messages reproducible")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.sample_interval <= 0 or args.settle < 0:
        parser.error("--rate, --duration and --sample-interval must be positive, --settle not negative")
    return args


@dataclass
class Run:
    """What the measurement needs and what it gathered."""

    args: argparse.Namespace
    cfg: StackConfig
    specs: list
    targets: list[Target]
    probes: dict
    ledger: Ledger
    samplers: list[Sampler]
    sent: Counter | None = None
    undelivered: int = 0
    complete: bool = False
    snapshots: tuple[Snapshot, ...] = ()  # start, producing stopped, end
    loads: list[float] | None = None


def preflight(cfg: StackConfig, probes: dict, targets: list[Target], dag_ids: list[str]) -> None:
    """Fail before producing when a database does not answer; warn about what cannot work yet."""
    for probe in probes.values():
        try:
            probe.ping()
        except Exception as exc:
            raise SystemExit(
                f"freshness: {probe.engine} does not answer ({exc}); is the stack up (make up)?"
            ) from exc
        for target in targets:
            try:
                probe.max_offsets(target)
            except Exception as exc:
                print(f"freshness: WARNING: {probe.engine} {target.table} cannot be read yet "
                      f"({_first_line(exc)}); sampling it anyway", flush=True)  # fmt: skip
    from kafka_elt.stack.airflow import AirflowApi

    try:
        api = AirflowApi(cfg)
    except Exception as exc:
        print(f"freshness: WARNING: the Airflow API does not answer ({_first_line(exc)})", flush=True)
        return
    for dag_id in dag_ids:
        try:
            paused = api.request("GET", f"/dags/{dag_id}")["is_paused"]
        except Exception as exc:
            print(f"freshness: WARNING: DAG {dag_id}: {_first_line(exc)}", flush=True)
            continue
        if paused:
            print(
                f"freshness: WARNING: DAG {dag_id} is paused; this script never unpauses or triggers",
                flush=True,
            )


def prepare(args: argparse.Namespace, cfg: StackConfig) -> Run:
    from kafka_elt.ingest.registry import load_registry

    specs = [s for s in load_registry() if s.kind in MARTS]
    starts = start_offsets(cfg.kafka_bootstrap, [s.topic for s in specs])
    targets = build_targets(specs, starts, int(time.time()))
    probes = {"postgres": PostgresProbe(cfg), "clickhouse": ClickHouseProbe(cfg)}
    preflight(cfg, probes, targets, [s.dag_id for s in specs] + list(DOWNSTREAM_DAGS))
    ledger = Ledger(next((s.topic for s in specs if s.kind == "market_candle"), None))
    samplers = [Sampler(p, targets, args.sample_interval, threading.Event()) for p in probes.values()]
    return Run(args, cfg, specs, targets, probes, ledger, samplers, loads=[])


def settle(run: Run, started: float) -> bool:
    """Wait until both engines' tables hold every message, or --settle seconds."""
    deadline = time.monotonic() + run.args.settle
    last_print = time.monotonic()
    while time.monotonic() < deadline:
        if all_seen(run.samplers, run.targets, run.ledger):
            return True
        time.sleep(0.5)
        if time.monotonic() - last_print >= PROGRESS_EVERY_S:
            last_print = time.monotonic()
            run.loads.append(os.getloadavg()[0])
            print_progress(time.monotonic() - started, run.sent, run.ledger, run.samplers, run.targets)
    return all_seen(run.samplers, run.targets, run.ledger)


def measure(run: Run) -> None:
    """Produce for --duration while sampling, then wait for the last messages."""
    args, cfg, ledger = run.args, run.cfg, run.ledger
    producer = make_producer(cfg.kafka_bootstrap, ledger, **{"delivery.report.only.error": False})
    seed = args.seed if args.seed is not None else run.targets[0].since_s
    sources = {s.topic: message_source(s.kind, seed + i) for i, s in enumerate(run.specs)}
    first = Snapshot.take(cfg)
    for sampler in run.samplers:
        sampler.start()
    started = last_print = time.monotonic()

    def tick(elapsed: float, sent: Counter) -> None:
        nonlocal last_print
        if time.monotonic() - last_print >= PROGRESS_EVERY_S:
            last_print = time.monotonic()
            run.loads.append(os.getloadavg()[0])
            print_progress(elapsed, sent, ledger, run.samplers, run.targets)

    run.sent = produce_paced(producer, ledger, sources, args.rate, args.duration, tick)
    run.undelivered = producer.flush(120)
    producing = Snapshot.take(cfg)
    ledger.ensure_sorted()
    print(f"freshness: produced {', '.join(f'{t} {n:,}' for t, n in run.sent.items())}; "
          f"waiting up to {args.settle:g}s for the last of them", flush=True)  # fmt: skip
    run.complete = settle(run, started)
    for sampler in run.samplers:
        sampler.stop.set()
        sampler.join()
    run.snapshots = (first, producing, Snapshot.take(cfg))
    run.loads.append(os.getloadavg()[0])
    print(f"freshness: {'every message arrived' if run.complete else 'NOT every message arrived'}, "
          f"{run.snapshots[2].wall - producing.wall:.0f}s after producing stopped", flush=True)  # fmt: skip


def sampling_figures(sampler: Sampler) -> dict:
    q = sorted(sampler.query_s)
    return {
        "queries": len(q),
        "median_ms": 1000 * q[len(q) // 2] if q else None,
        "p95_ms": 1000 * percentile(q, 0.95) if q else None,
        "failed": sampler.errors,
        "last_error": sampler.last_error,
    }


def build_report(run: Run) -> dict:
    first, producing, last = run.snapshots
    samplers, targets, ledger = run.samplers, run.targets, run.ledger
    whole = cpu_figures(first, last)
    whole["other_cpu_s"] = max(
        whole["machine_busy_cpu_s"] - whole["stack_cpu_s"] - whole["this_script_cpu_s"], 0
    )
    not_in_mart = {f"{s.probe.engine} {t.topic}": u for s in samplers for t in targets
                   if t.layer == "mart" and (u := unseen(s, t, ledger))}  # fmt: skip
    checks = run_checks(run.probes, targets, ledger)
    delivery = {"failed": ledger.failed, "undelivered": run.undelivered, "first_error": ledger.first_error}
    dag_ids = [s.dag_id for s in run.specs] + list(DOWNSTREAM_DAGS)
    return {
        "started_at": datetime.fromtimestamp(first.wall, UTC).isoformat(),
        "options": {
            k: getattr(run.args, k) for k in ("rate", "duration", "sample_interval", "settle", "seed")
        },
        "produced": dict(run.sent),
        "delivered": dict(ledger.delivered),
        "delivery": delivery,
        "all_arrived_within_settle": run.complete,
        "latency": [latency_figures(s, t, ledger) for s in samplers for t in targets],
        "checks": checks,
        "not_in_mart": not_in_mart,
        "cpu_whole_run": whole,
        "cpu_while_producing": cpu_figures(first, producing),
        "load_average_1min": {"mean": sum(run.loads) / len(run.loads), "max": max(run.loads)},
        "dag_runs": dag_run_figures(run.cfg, dag_ids, datetime.fromtimestamp(first.wall, UTC)),
        "sampling": {s.probe.engine: sampling_figures(s) for s in samplers},
        "ok": not not_in_mart
        and not delivery["failed"]
        and not run.undelivered
        and all(c["ok"] for c in checks),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = StackConfig.load()
    run = prepare(args, cfg)
    print(f"freshness: {args.rate:g} messages/s into each of {', '.join(s.topic for s in run.specs)} for "
          f"{args.duration:g}s (Kafka {cfg.kafka_bootstrap}); sampling "
          f"{', '.join(t.table for t in run.targets)} in both engines every {args.sample_interval:g}s; "
          f"then waiting up to {args.settle:g}s", flush=True)  # fmt: skip
    try:
        measure(run)
        report = build_report(run)
    finally:
        for probe in run.probes.values():
            probe.close()
    print_report(report)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2, default=str)
        print(f"freshness: figures written to {args.json}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
