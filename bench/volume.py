"""A year of data through the real path, timed: a Kafka backlog to agreeing marts in both engines.

    make bench-volume                                        # the scale data set: 14.2M messages
    make bench-volume ARGS="--visits 200000 --candle-minutes 20000 --increment 10000"

The data set is the sample producer's ``--scale`` one: 10,000,000 page visits and a
year of 1-minute candles for 8 codes, one message per candle (4,204,800), with a share
of malformed page visits (``--malformed-share``) for the dead letters. Steps, one after the
other, each printed with its wall time, rows, messages/s, CPU by component, peak memory
and how busy the machine was:

1. **produce** the data set into two private topics (the registry's partition count).
   Not part of the end-to-end figure: the backlog is in Kafka before the pipeline runs.
2. **drain** every partition of both topics to its high watermark at once, one process
   per partition, with ``kafka_elt.ingest.drain.drain_partition`` (what the ingestion
   DAGs' mapped tasks run), into a private raw schema of both engines.
3. **dbt build**, first: the project's whole build (every model and its tests, as a
   manual ``dbt_marts`` run), on PostgreSQL and ClickHouse at the same time, as
   ``dbt_marts`` runs its two targets.
4. **agreement**: raw rows = messages read less dead letters in each engine; the
   market_candle mart holds every candle once; ``mart_checksums`` equal in both engines.
5. **incremental**: ``--increment`` new messages, half page visits and half candles
   (new prices for the year's last candles, then the candles after them): produced,
   drained and built again with ``dbt_marts``'s selection and staging-test window
   (the re-sent candles upsert their rows: the mart grows by the new ones only);
   then the agreement again.

End to end = drain + the slower of the two builds: from a backlog in Kafka to marts
that agree. Service addresses come from the local stack's settings (StackConfig). The
topics, the raw schema and the mart schema are private to the run and dropped at the
end, unless --keep.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from phases import BenchError, Drained, Phase, Snapshot, dbt_parse, run_dbt, run_drains, stack_ch, stack_pg

from kafka_elt.stack.config import StackConfig

ENGINES = ("postgres", "clickhouse")
YEAR_START = 1_735_689_600  # 2025-01-01T00:00:00Z, the candle simulator's default start


@dataclass
class Produced:
    phase: Phase
    messages: int
    valid_candles: int  # the producer's candle messages that are not poison (one per candle)


class Run:
    """The run's private topics, schemas and dbt state, and the reads that check them."""

    def __init__(self, cfg: StackConfig, args: argparse.Namespace) -> None:
        from kafka_elt.ingest.registry import get_topic

        self.cfg, self.args = cfg, args
        tag = f"{int(time.time())}_{uuid.uuid4().hex[:6]}"
        self.tag = tag
        self.raw, self.mart = f"bench_volume_{tag}_raw", f"bench_volume_{tag}_mart"
        self.group = f"bench-volume-{tag}"
        # Large enough for the whole backlog in one run (the DAG would take two).
        overrides = {"raw_schema": self.raw, "max_messages": 10**9, "max_seconds": args.timeout}
        self.candles = get_topic("market_candle").with_overrides(
            topic=f"bench_volume_{tag}_candles", **overrides
        )
        self.visits = get_topic("web-logs-topic").with_overrides(
            topic=f"bench_volume_{tag}_visits", **overrides
        )
        self.state = cfg.state_dir / "bench" / f"volume-{tag}"
        self.env = {
            **os.environ,
            "DBT_RAW_SCHEMA": self.raw,
            "DBT_POSTGRES_SCHEMA": self.mart,
            "DBT_CLICKHOUSE_SCHEMA": self.mart,
        }

    @property
    def specs(self) -> list:
        return [self.candles, self.visits]

    def pg(self, role: str):
        return stack_pg(self.cfg, role)

    def ch(self):
        return stack_ch()

    def prepare(self) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        from kafka_elt.ingest.connections import Connections
        from kafka_elt.ingest.ddl import apply_ddl

        admin = AdminClient({"bootstrap.servers": self.cfg.kafka_bootstrap})
        for spec in self.specs:
            admin.create_topics([NewTopic(spec.topic, num_partitions=spec.partitions, replication_factor=1)])[
                spec.topic
            ].result(30)
            apply_ddl(spec, Connections())
        with self.pg("loader") as conn:
            conn.execute(f"grant usage on schema {self.raw} to {self.cfg['DBT_USER']}")
            conn.execute(f"grant select on all tables in schema {self.raw} to {self.cfg['DBT_USER']}")
        self.state.mkdir(parents=True, exist_ok=True)

    def drop(self) -> None:
        from confluent_kafka.admin import AdminClient

        with self.pg("dbt") as conn:
            conn.execute(f"drop schema if exists {self.mart} cascade")
        with self.pg("loader") as conn:
            conn.execute(f"drop schema if exists {self.raw} cascade")
        ch = self.ch()
        ch.command(f"drop database if exists {self.mart}")
        ch.command(f"drop database if exists {self.raw}")
        ch.close()
        admin = AdminClient({"bootstrap.servers": self.cfg.kafka_bootstrap})
        for future in admin.delete_topics([s.topic for s in self.specs]).values():
            future.result(30)
        for future in admin.delete_consumer_groups([self.group]).values():
            try:
                future.result(30)
            except Exception as exc:  # a group that never committed does not exist
                print(f"bench-volume: consumer group not deleted: {exc}", flush=True)

    def counts(self, engine: str) -> dict[str, int]:
        """Raw rows per table, dead letters, and market_candle mart rows, in one engine."""
        tables = {
            "raw candles": f"{self.raw}.{self.candles.table}",
            "raw page visits": f"{self.raw}.{self.visits.table}",
            "dead letters": f"{self.raw}.{self.candles.dead_letter_table}",
            "market_candle": f"{self.mart}.market_candle",
            "user_footprint": f"{self.mart}.user_footprint",
        }
        if engine == "postgres":
            with self.pg("dbt") as conn:
                return {k: conn.execute(f"select count(*) from {t}").fetchone()[0] for k, t in tables.items()}
        ch = self.ch()
        try:
            # FINAL: the raw tables are ReplacingMergeTree, deduplicated at merge time.
            return {
                k: int(ch.query(f"select count() from {t} final").result_rows[0][0])
                for k, t in tables.items()
            }
        finally:
            ch.close()

    def checksums(self) -> list:
        from kafka_elt.dashboard.engines import ClickHouseEngine, PostgresEngine
        from kafka_elt.dashboard.snapshot import read_checksums

        pg = PostgresEngine(self.pg("dbt"))
        try:
            found = read_checksums(pg, f"{self.mart}.mart_checksums")
        finally:
            pg.close()
        ch = ClickHouseEngine(self.ch())
        try:
            return found + read_checksums(ch, f"{self.mart}.mart_checksums")
        finally:
            ch.close()


# ---------------------------------------------------------------- steps


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def produce(
    run: Run, visits: int, candle_minutes: int, malformed: float, candle_start: int, seed: int,
    visits_start: datetime | None = None,
) -> Produced:  # fmt: skip
    """Page visits (in time order from ``visits_start``, default the generator's) and
    candles (one message per candle) into the run's topics."""
    from kafka_elt.producers.candles import CODES
    from kafka_elt.producers.kafka import DeliveryTracker, make_producer, produce_all
    from kafka_elt.producers.sample import candle_messages, footprint_messages

    cfg = run.cfg
    counted = {"valid": 0}

    def candles():
        # No poison among the candles (the page visits carry it): a poisoned candle is one
        # the simulator made and nobody stored, and the check counts the candles exactly.
        for key, value in candle_messages(candle_minutes * len(CODES), seed=seed, updates_per_candle=(1, 1),
                                          start_epoch=candle_start):  # fmt: skip
            counted["valid"] += 1
            yield key, value

    before, own_before = Snapshot.take(cfg), _own_cpu_seconds()
    tracker = DeliveryTracker()
    producer = make_producer(cfg.kafka_bootstrap, tracker)
    sent = produce_all(producer, tracker, run.candles.topic, candles(), label="candles", progress_every_s=10)
    sent += produce_all(producer, tracker, run.visits.topic,
                        footprint_messages(visits, malformed_share=malformed, seed=seed, start=visits_start),
                        label="page visits", progress_every_s=10)  # fmt: skip
    after = Snapshot.take(cfg)
    own = {"producer (this process)": _own_cpu_seconds() - own_before}
    phase = Phase.measured("produce", before, after, own, ("kafka",), 0.0)
    return Produced(phase, sent, counted["valid"])


def build_both(run: Run, select: list[str], env: dict[str, str], label: str) -> dict[str, Phase]:
    """Both targets at the same time, as dbt_marts runs them."""
    with ThreadPoolExecutor(max_workers=len(ENGINES)) as pool:
        futures = {
            engine: pool.submit(
                run_dbt, run.cfg, engine, env, run.state, select, (), f"{label} ({engine})", True
            )
            for engine in ENGINES
        }
        return {engine: future.result() for engine, future in futures.items()}


def check(run: Run, read: int, dead: int, candles: int) -> list[tuple[str, bool]]:
    """Lines that say whether both engines hold what was drained, and agree."""
    from kafka_elt.dashboard.snapshot import checksums_by_engine, disagreements

    lines = []
    for engine in ENGINES:
        c = run.counts(engine)
        raw = c["raw candles"] + c["raw page visits"]
        ok = raw + c["dead letters"] == read and c["dead letters"] == dead
        lines.append((f"{engine}: raw {raw:,} + dead letters {c['dead letters']:,} = {raw + c['dead letters']:,} "
                      f"(read {read:,}, dead-lettered {dead:,})", ok))  # fmt: skip
        ok = c["market_candle"] == candles
        lines.append((f"{engine}: market_candle {c['market_candle']:,} rows (candles produced: {candles:,}), "
                      f"user_footprint {c['user_footprint']:,}", ok))  # fmt: skip
    checksums = run.checksums()
    differ = disagreements(checksums, list(ENGINES))
    by_engine = checksums_by_engine(checksums)
    marts = ", ".join(f"{m} {rows:,}" for m, (rows, _) in sorted(by_engine.get("postgres", {}).items()))
    lines.append(
        (f"mart_checksums: {len(by_engine.get('postgres', {}))} marts, rows {marts}", bool(by_engine))
    )
    lines.append(
        ("both engines' marts agree (rows and checksums)" if not differ else "; ".join(differ), not differ)
    )
    return lines


# ---------------------------------------------------------------- report


def _row(label: str, phase: Phase, messages: int, rows: str = "") -> str:
    rate = messages / phase.seconds if phase.seconds else 0.0
    cpu = phase.cpu_total / messages * 1e6 if messages else 0.0
    return (f"{label:38} {phase.seconds:8.1f} {messages:>11,} {rate:9,.0f} {cpu:8.1f} {phase.peak_rss_mib:9,.0f} "
            f"{phase.load1[0]:5.1f}/{phase.load1[1]:<5.1f} {phase.others_busy:7.0f}  {rows}")  # fmt: skip


def report(title: str, steps: list[tuple[str, Phase, int]]) -> None:
    print(f"\n=== {title} ===")
    print(f"{'step':38} {'wall s':>8} {'messages':>11} {'msg/s':>9} {'CPU us/msg':>8} {'peak MiB':>9} "
          f"{'load 1m':>11} {'others CPU-s':>7}")  # fmt: skip
    for label, phase, messages in steps:
        print(_row(label, phase, messages))
    print("CPU by component (s): " + " | ".join(
        f"{label}: " + ", ".join(f"{k} {v:.0f}" for k, v in phase.cpu.items()) for label, phase, _ in steps
    ))  # fmt: skip


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    from kafka_elt.producers.sample import MINUTES_PER_YEAR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=10_000_000, help="page-visit messages")
    parser.add_argument("--candle-minutes", type=int, default=MINUTES_PER_YEAR,
                        help="minutes of 1-minute candles for 8 codes, one message each (default: a year)")  # fmt: skip
    parser.add_argument(
        "--malformed-share", type=float, default=0.001, help="share of poison page visits, dead-lettered"
    )
    parser.add_argument(
        "--increment", type=int, default=100_000, help="new messages for each incremental pass"
    )
    parser.add_argument(
        "--passes",
        type=int,
        default=2,
        help="incremental passes, one after the other (the first right after the bulk build, the next ones in steady state)",
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds a drain may run")
    parser.add_argument("--keep", action="store_true", help="keep the topics, schemas and dbt state")
    args = parser.parse_args(argv)

    cfg = StackConfig.load()
    os.environ.update(cfg.environment())
    run = Run(cfg, args)
    print(f"bench-volume: {args.visits:,} page visits + {args.candle_minutes:,} minutes of candles for 8 codes; "
          f"Kafka {cfg.kafka_bootstrap}, PostgreSQL {cfg.host}:{cfg.port('POSTGRES')}, ClickHouse "
          f"{cfg.host}:{cfg.port('CLICKHOUSE_HTTP')}; schemas {run.raw}, {run.mart}; {os.cpu_count()} cores",
          flush=True)  # fmt: skip
    ok = False
    try:
        run.prepare()
        ok = _measure(run, args)
    finally:
        if not args.keep:
            print("\nbench-volume: dropping the run's topics, consumer group and schemas", flush=True)
            run.drop()
    return 0 if ok else 1


@dataclass
class Pass:
    number: int
    started: float  # when its dbt builds started (time.time())
    produced: Produced
    drained: Drained
    builds: dict[str, Phase]
    new_candles: int
    checks: list[tuple[str, bool]]


def incremental_pass(
    run: Run, args: argparse.Namespace, number: int, previous_build: float, totals: tuple[int, int, int]
) -> Pass:
    """Pass `number`: new messages drained and built as dbt_marts builds after a build
    that passed; `totals`: messages read, dead-lettered and candles before it."""
    from kafka_elt.producers import footprints
    from kafka_elt.producers.candles import CODES
    from kafka_elt.transform.build import selection_for

    print(f"\n[5/5] incremental pass {number} of {args.passes}: {args.increment:,} new messages", flush=True)
    half = args.increment // 2
    minutes = max(half // (2 * len(CODES)), 1)  # half re-sends of the last candles, half new ones
    # The candles re-send the last `minutes` written so far with new prices and add as
    # many after them; the page visits go on in time from where the previous ones ended.
    resend_from = YEAR_START + (args.candle_minutes + (number - 2) * minutes) * 60
    visits_start = footprints.DEFAULT_START + timedelta(
        milliseconds=footprints.MEAN_GAP_MS * (args.visits + (number - 1) * half)
    )
    produced = produce(run, half, 2 * minutes, 0.0, resend_from, seed=7 + number, visits_start=visits_start)
    time.sleep(3)
    drained = run_drains(run.cfg, run.specs, run.group, f"bench_volume_inc{number}__{run.tag}", "drain")
    changed = [f"{engine}.{run.raw}.{spec.table}" for engine in ENGINES for spec in run.specs]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(previous_build - 60))
    # As dbt_marts runs it after a build that passed: the marts' tests read the rows it writes.
    env = {**run.env, "DBT_STAGING_TESTS_SINCE": since, "DBT_MART_TESTS": "new_rows"}
    started = time.time()
    builds = build_both(run, selection_for("postgres", run.raw, changed), env, "dbt build, incremental")
    read, dead, candles = totals
    new_candles = minutes * len(CODES)
    checks = check(run, read + drained.read, dead + drained.dead_lettered, candles + new_candles)
    checks.insert(
        0, (f"read {drained.read:,} of {produced.messages:,} produced", drained.read == produced.messages)
    )
    return Pass(number, started, produced, drained, builds, new_candles, checks)


def _measure(run: Run, args: argparse.Namespace) -> bool:
    print("\n[1/5] produce", flush=True)
    first = produce(run, args.visits, args.candle_minutes, args.malformed_share, YEAR_START, seed=7)
    time.sleep(3)  # let the broker settle after producing
    print("\n[2/5] drain", flush=True)
    drained = run_drains(run.cfg, run.specs, run.group, f"bench_volume__{run.tag}", "drain")
    for engine in ENGINES:
        dbt_parse(run.env, engine, run.state)  # untimed: Airflow's builds start from partial-parse state
    print("\n[3/5] dbt build, both engines at once (every model and test)", flush=True)
    built_at = time.time()
    builds = build_both(run, [], run.env, "dbt build, first")
    print("\n[4/5] agreement", flush=True)
    checks = check(run, drained.read, drained.dead_lettered, first.valid_candles)
    checks.insert(
        0, (f"read {drained.read:,} of {first.messages:,} produced", drained.read == first.messages)
    )
    passes: list[Pass] = []
    for number in range(1, args.passes + 1):
        totals = (drained.read + sum(p.drained.read for p in passes),
                  drained.dead_lettered + sum(p.drained.dead_lettered for p in passes),
                  first.valid_candles + sum(p.new_candles for p in passes))  # fmt: skip
        passes.append(incremental_pass(run, args, number, passes[-1].started if passes else built_at, totals))

    slower = max(builds.values(), key=lambda p: p.seconds)
    end_to_end = drained.phase.then(slower, "end to end")
    total = drained.read
    report(
        f"backlog to marts: {total:,} messages ({args.visits:,} page visits, {first.valid_candles:,} candles, "
        f"{drained.dead_lettered:,} dead letters)",
        [("produce (not in end to end)", first.phase, first.messages),
         ("drain, 2 topics into both engines", drained.phase, total),
         *[(f"dbt build, first ({e})", p, total) for e, p in builds.items()],
         ("end to end (drain + slower build)", end_to_end, total)],
    )  # fmt: skip
    print(
        f"peak RSS per drain process: {drained.peak_per_drain_mib:.0f} MiB (max of {len(drained.outcomes)})"
    )
    for one in passes:
        report(
            f"incremental pass {one.number}: {one.drained.read:,} new messages ({args.increment // 2:,} page visits, "
            f"{one.new_candles:,} re-sent and {one.new_candles:,} new candles)",
            [("produce (not in the pass)", one.produced.phase, one.produced.messages),
             ("drain", one.drained.phase, one.drained.read),
             *[(f"dbt build, incremental ({e})", p, one.drained.read) for e, p in one.builds.items()]],
        )  # fmt: skip
    print("\nchecks after the first build:")
    for line, good in checks:
        print(f"  {'OK ' if good else 'BAD'} {line}")
    for one in passes:
        print(f"checks after incremental pass {one.number}:")
        for line, good in one.checks:
            print(f"  {'OK ' if good else 'BAD'} {line}")
    figures = "; ".join(
        f"pass {one.number}: " + ", ".join(f"{e} {p.seconds:.1f}s" for e, p in one.builds.items())
        for one in passes
    )
    print(f"\nend to end: {end_to_end.seconds / 60:.1f} min from a backlog of {total:,} messages to agreeing marts "
          f"(target 10 min, first bar 20); incremental {figures} (target 30 s per engine)")  # fmt: skip
    return all(good for _, good in checks) and all(good for one in passes for _, good in one.checks)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench-volume: ERROR: {exc}", file=sys.stderr)
        sys.exit(1)
