"""Ingestion benchmark: 1,000,000 candle messages into both raw tables.

    make bench                      # or: .venv/bin/python bench/ingest_bench.py --help

1. Produces the messages (Connect envelopes and bare payloads, the shape of the
   market_candle topic) into a fresh topic with several partitions.
2. Drains them with ``kafka_elt.ingest.drain.drain_partition`` -- the function the
   ingestion DAG's mapped tasks call -- one process per partition, in parallel, as the
   DAG's mapped tasks run under the LocalExecutor. Prints messages per second and each
   drain process's peak RSS, and checks the row counts in both databases.
3. Measures the design this replaces on a smaller sample: per message one json.loads,
   one INSERT (and commit) into each database and one synchronous offset commit.
   Prints its rate and the ratio.

Service addresses and credentials come from the local stack's settings (StackConfig:
.env.example, .env, the shell, generated secrets), exported as the AIRFLOW_CONN_*
variables the DAG uses. The benchmark uses its own topic and tables (raw.bench_*) and
removes them afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from phases import drain_worker, drop_raw_table  # bench/, beside this script
from stack_cpu import machine_busy_seconds, stack_cpu_seconds

from kafka_elt.stack.config import StackConfig


def _service_cpu_seconds(cfg: StackConfig) -> dict[str, float]:
    """CPU used so far by the services a drain's messages cost besides its own process:
    PostgreSQL (with its backends), ClickHouse and the Kafka broker."""
    used = stack_cpu_seconds(cfg)
    return {name: used.get(name, 0.0) for name in ("postgres", "clickhouse", "kafka")}


def _export_stack_env() -> StackConfig:
    cfg = StackConfig.load()
    os.environ.update(cfg.environment())
    return cfg


def _produce(bootstrap: str, topic: str, count: int, partitions: int) -> float:
    from confluent_kafka.admin import AdminClient, NewTopic

    from kafka_elt.producers.kafka import DeliveryTracker, make_producer, produce_all
    from kafka_elt.producers.sample import candle_messages

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(30)
    tracker = DeliveryTracker()
    producer = make_producer(bootstrap, tracker)
    started = time.monotonic()
    # Keys spread over many values so that every partition gets a fair share.
    messages = ((f"{i % 997}".encode(), value) for i, (_, value) in enumerate(candle_messages(count, seed=7)))
    produce_all(producer, tracker, topic, messages, label="bench produce", progress_every_s=5.0)
    return time.monotonic() - started


def _count(connections, spec) -> tuple[int, int]:
    pg = connections.postgres()
    with pg.cursor() as cur:
        cur.execute(f"select count(*) from {spec.qualified_table}")
        pg_rows = cur.fetchone()[0]
    pg.close()
    ch = connections.clickhouse()
    ch_rows = ch.command(f"select count() from {spec.qualified_table}")
    ch.close()
    return pg_rows, int(ch_rows)


def per_message_baseline(spec, connections, group_id: str, limit: int) -> dict:
    """The replaced design: per message json.loads, two INSERTs, one offset commit."""
    from confluent_kafka import TopicPartition

    consumer = connections.consumer(group_id)
    consumer.assign([TopicPartition(spec.topic, 0, 0)])
    pg = connections.postgres()
    pg.autocommit = True
    ch = connections.clickhouse()
    insert_pg = (
        f"insert into {spec.qualified_table} (kafka_topic, kafka_partition, kafka_offset, kafka_key, kafka_value, "
        "kafka_timestamp, kafka_headers, ingested_at, dag_run_id) values "
        "(%s, %s, %s, %s, %s, to_timestamp(%s / 1000.0), '[]', now(), 'baseline') on conflict do nothing"
    )
    columns = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_key", "kafka_value", "kafka_timestamp",
               "kafka_headers", "ingested_at", "dag_run_id"]  # fmt: skip
    done = 0
    started = time.monotonic()
    with pg.cursor() as cur:
        while done < limit:
            message = consumer.poll(5.0)
            if message is None:
                break
            if message.error():
                continue
            value = message.value()
            json.loads(value)
            ts = message.timestamp()[1]
            cur.execute(
                insert_pg,
                (spec.topic, message.partition(), message.offset(), message.key(), value.decode(), ts),
            )
            now_us = int(time.time() * 1e6)
            ch.insert(
                spec.qualified_table,
                [
                    [
                        spec.topic,
                        message.partition(),
                        message.offset(),
                        message.key(),
                        value,
                        ts,
                        "[]",
                        now_us,
                        "baseline",
                    ]
                ],
                column_names=columns,
            )
            consumer.commit(message=message, asynchronous=False)
            done += 1
    elapsed = time.monotonic() - started
    consumer.close()
    pg.close()
    ch.close()
    return {"messages": done, "seconds": elapsed, "rate": done / elapsed if elapsed else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument(
        "--partitions", type=int, default=3, help="topic partitions = parallel drain processes"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: the registry's market_candle value"
    )
    parser.add_argument("--baseline-messages", type=int, default=3_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench topic and tables")
    args = parser.parse_args(argv)

    cfg = _export_stack_env()
    from confluent_kafka.admin import AdminClient

    from kafka_elt.ingest.connections import Connections
    from kafka_elt.ingest.ddl import apply_ddl
    from kafka_elt.ingest.registry import get_topic

    tag = f"{int(time.time())}_{uuid.uuid4().hex[:6]}"
    topic = f"bench_market_candle_{tag}"
    base = get_topic("market_candle")
    spec = base.with_overrides(
        topic=topic,
        table="bench_market_candle",
        batch_size=args.batch_size or base.batch_size,
        max_seconds=3600,
    )
    baseline_spec = spec.with_overrides(table="bench_market_candle_baseline")
    connections = Connections()
    bootstrap = cfg.kafka_bootstrap
    print(f"bench: Kafka {bootstrap}, PostgreSQL {cfg.host}:{cfg.port('POSTGRES')}, "
          f"ClickHouse {cfg.host}:{cfg.port('CLICKHOUSE_HTTP')}; topic {topic} ({args.partitions} partitions)")  # fmt: skip

    for s in (spec, baseline_spec):
        drop_raw_table(connections, s)
        apply_ddl(s, connections)
    # The replaced consumer's tables had no fsync per insert; give its baseline the same,
    # or a per-row fsync would make the comparison look better than it is.
    ch = connections.clickhouse()
    ch.command(
        f"alter table {baseline_spec.qualified_table} modify setting fsync_after_insert = 0, fsync_part_directory = 0"
    )
    ch.close()
    produce_s = _produce(bootstrap, topic, args.messages, args.partitions)

    from kafka_elt.ingest.consumer import plan_partitions

    group = f"bench-{tag}"
    plans = plan_partitions(spec, connections, group_id=group)
    print(
        f"bench: draining {sum(p.lag for p in plans):,} messages with {len(plans)} processes (batch {spec.batch_size:,})"
    )
    spec_fields = {f: getattr(spec, f) for f in spec.__dataclass_fields__}
    cpu_before = _service_cpu_seconds(cfg)
    busy_before = machine_busy_seconds()
    wall_start = time.time()
    with ProcessPoolExecutor(max_workers=len(plans), mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(drain_worker, spec_fields, p.partition, p.end_offset, group, f"bench__{tag}")
            for p in plans
        ]
        outcomes = [f.result() for f in futures]
    wall_end = time.time()
    cpu_after = _service_cpu_seconds(cfg)
    busy = machine_busy_seconds() - busy_before

    results = [o["result"] for o in outcomes]
    read = sum(r["read"] for r in results)
    loaded = sum(r["read"] - r["dead_lettered"] for r in results)  # valid messages
    dead = sum(r["dead_lettered"] for r in results)
    drain_s = max(o["finished"] for o in outcomes) - min(o["started"] for o in outcomes)
    pg_rows, ch_rows = _count(connections, spec)

    print("\nper partition:")
    for o in sorted(outcomes, key=lambda o: o["result"]["partition"]):
        r = o["result"]
        t = r["timings"]
        print(f"  p{r['partition']}: {r['read']:,} msgs in {r['seconds']:.1f}s = {r['rate']:,.0f} msg/s, "
              f"peak RSS {o['peak_rss_mib']:.0f} MiB; time in kafka {t['kafka']:.1f}s, decode {t['decode']:.1f}s, "
              f"postgres {t['postgres']:.1f}s, clickhouse {t['clickhouse']:.1f}s, commit {t['commit']:.1f}s")  # fmt: skip

    baseline = per_message_baseline(
        baseline_spec, connections, f"bench-baseline-{tag}", args.baseline_messages
    )
    rate = read / drain_s
    print("\n=== ingestion benchmark ===")
    print(f"produced               {args.messages:,} candle messages in {produce_s:.1f}s")
    print(f"drained                {read:,} messages ({loaded:,} loaded, {dead:,} dead-lettered) "
          f"with {len(plans)} parallel drain processes")  # fmt: skip
    print(f"rows                   PostgreSQL {pg_rows:,}, ClickHouse {ch_rows:,} "
          f"({'OK' if pg_rows == ch_rows == loaded else 'MISMATCH'})")  # fmt: skip
    print(f"drain throughput       {rate:,.0f} messages/s into both databases ({drain_s:.1f}s)")
    print(
        f"  incl. process start  {read / (wall_end - wall_start):,.0f} messages/s ({wall_end - wall_start:.1f}s)"
    )
    print(
        f"peak RSS per drain     {max(o['peak_rss_mib'] for o in outcomes):.0f} MiB (max of {len(outcomes)} processes)"
    )
    print(f"per-message baseline   {baseline['rate']:,.0f} messages/s ({baseline['messages']:,} messages in "
          f"{baseline['seconds']:.1f}s: json.loads + INSERT into each database + sync offset commit per message)")  # fmt: skip
    print(f"ratio                  {rate / baseline['rate']:,.1f}x" if baseline["rate"] else "ratio n/a")
    cpu = {"drain processes": sum(o["cpu_s"] for o in outcomes)}
    cpu.update({name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after})
    ours = sum(cpu.values())
    per_message_us = ours / read * 1e6
    cores = os.cpu_count() or 1
    print("CPU during the drain   " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in cpu.items())
          + f" = {per_message_us:.1f} us of CPU per message")  # fmt: skip
    wall = wall_end - wall_start
    print(f"machine                {cores} cores, {busy:.0f} CPU-s busy in {wall:.0f}s, of which this pipeline "
          f"{ours:.0f} and other processes {max(busy - ours, 0):.0f} (drain start-up included)")  # fmt: skip
    print(f"CPU-bound ceiling      {cores / per_message_us * 1e6:,.0f} messages/s if the pipeline had all {cores} "
          "cores to itself (an estimate, not a measurement)")  # fmt: skip

    if not args.keep:
        for s in (spec, baseline_spec):
            drop_raw_table(connections, s)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.delete_topics([topic])[topic].result(30)
    ok = pg_rows == ch_rows == loaded and read == args.messages
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
