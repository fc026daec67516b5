"""Ingestion DAGs: one per topic of the registry (include/topics.yaml), ``ingest_<table>``.

Each drains its Kafka topic into the raw staging tables of PostgreSQL and ClickHouse,
exactly once in effect, and emits the raw-table Assets that schedule dbt. The work
lives in ``kafka_elt.ingest``; this file only wires tasks together.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task

from kafka_elt.assets import raw_table_assets, topic_asset
from kafka_elt.ingest.kill_report import report_killed_try
from kafka_elt.ingest.registry import TopicSpec, load_registry

DOC = """
### {dag_id}: Kafka topic `{topic}` -> `{table}` in PostgreSQL and ClickHouse

{description}

**Why the DAG id is not the file name**: every ingestion DAG comes from one file,
`dags/kafka_ingest.py`, which generates one DAG per topic of the registry
(`include/topics.yaml`), so that a new topic is a few lines of YAML, not a new DAG file.
The DAG id is `ingest_<raw table>`.

**When it runs**: {trigger}

**Tasks** (a run's fixed cost is its task starts, so there are few)
1. `plan`: creates what is missing of the raw layer in both databases
   (`include/sql/*/raw_*.sql`; idempotent), then reads each partition's committed offset
   in consumer group `{group}` and its high watermark *now*: the run drains what the
   topic held when it started, never chasing new messages (the watcher starts the next
   run for those). Partitions with nothing to load get no drain task.
2. `drain` (mapped, one task per partition with messages, in parallel): reads from the
   committed offset up to that watermark, at most **{max_messages:,} messages or
   {max_seconds} s** per partition (checked between batches of {batch_size:,}).
   Per batch: PostgreSQL (COPY, raw rows and dead letters in one transaction), then
   ClickHouse (columnar insert, skipping stored offsets), then the PostgreSQL commit,
   then a synchronous Kafka offset commit. `enable.auto.commit` is forced off
   (apache/airflow#34213). Poison messages (not UTF-8, not JSON, missing or mistyped
   fields, unparsable times) go to `{dead_letter}` with the reason; they never fail
   the run.
3. `publish`: counts per partition and in total, in the words of each drain's log line:
   `read`; `written` (newly, per database); `skipped_already_stored` (per database: a
   re-read batch); `dead_lettered`; `lag`. In the log, as the return value and as the
   extra of the Asset events `postgres.{schema}.{table}` and `clickhouse.{schema}.{table}`,
   emitted when the run wrote new rows (skipped otherwise), which schedule `dbt_marts`.

**Re-running is safe**: raw tables are keyed by (topic, partition, offset); a re-read
batch (a retry, a cleared task, a reset consumer group) is skipped in both databases.
A failed `drain` says which topic, partition, offsets and table failed; fix the cause
and clear the task: it resumes from the last committed batch. A drain killed from
outside (SIGKILL) cannot say anything; its retry (and its retry/failure callback, when
Airflow runs one) says whether memory was the cause, from the kernel's OOM-kill counters
(`kafka_elt.ingest.kill_report`), where Airflow only guesses "Likely out of memory".
"""

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
}


def ingest_schedule(spec: TopicSpec):
    """The topic's watcher (Asset events when messages wait) or'd with the safety clock."""
    if not spec.watch:
        return spec.schedule
    topic = topic_asset(spec)
    if spec.schedule is None:
        return [topic]
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(spec.schedule, timezone="UTC"), assets=topic)


def _trigger_doc(spec: TopicSpec) -> str:
    clock = f"and on the safety clock `{spec.schedule}`" if spec.schedule else "(no clock)"
    if not spec.watch:
        return f"on the clock `{spec.schedule}` only (`watch: false` in the registry)."
    return (
        f"when topic `{spec.topic}` holds messages the consumer group has not committed: the "
        f"Asset `kafka.{spec.topic}` is watched by `KafkaLagTrigger` in the triggerer (lag checked "
        f"every {spec.watch_interval_seconds:g} s, fired after gathering for {spec.debounce_seconds:g} s), "
        f"{clock}. At most one run is active; events arriving meanwhile queue one more run."
    )


def build_ingest_dag(spec: TopicSpec):
    """The ingestion DAG of one registry topic."""
    outlets = raw_table_assets(spec)

    @dag(
        dag_id=spec.dag_id,
        schedule=ingest_schedule(spec),
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        # One run at a time: two runs would drain the same offsets twice over. Asset
        # events that arrive during a run wait in the queue and start one more run.
        max_active_runs=1,
        tags=["ingestion", "kafka", "postgres", "clickhouse", f"topic:{spec.topic}"],
        default_args=DEFAULT_ARGS,
        doc_md=DOC.format(
            dag_id=spec.dag_id,
            topic=spec.topic,
            table=spec.table,
            schema=spec.raw_schema,
            description=spec.description,
            trigger=_trigger_doc(spec),
            group=spec.consumer_group or "the `kafka_default` connection's group.id",
            max_messages=spec.max_messages,
            max_seconds=spec.max_seconds,
            batch_size=spec.batch_size,
            dead_letter=spec.qualified_dead_letter_table,
        ),
    )
    def ingest():
        @task
        def plan() -> list[dict]:
            from kafka_elt.ingest.connections import Connections
            from kafka_elt.ingest.consumer import plan_partitions
            from kafka_elt.ingest.ddl import apply_ddl

            connections = Connections()
            apply_ddl(spec, connections)
            # Only partitions with messages to load get a drain task (a task start each).
            return [p.to_dict() for p in plan_partitions(spec, connections) if p.lag > 0]

        @task(
            map_index_template="partition {{ partition }}",
            # The budget is checked between batches; leave room for the last one.
            execution_timeout=timedelta(seconds=spec.max_seconds + 600),
            on_retry_callback=report_killed_try,
            on_failure_callback=report_killed_try,
        )
        def drain(plan: dict) -> dict:
            from kafka_elt.ingest.connections import Connections
            from kafka_elt.ingest.drain import drain_partition
            from kafka_elt.ingest.kill_report import report_previous_try, track_try, try_key

            context = get_current_context()
            context["partition"] = plan["partition"]  # type: ignore[typeddict-unknown-key]
            ti = context["ti"]
            key = try_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
            report_previous_try(key, ti.try_number)  # was the last try killed, and by memory?
            with track_try(key, ti.try_number):
                result = drain_partition(
                    spec,
                    plan["partition"],
                    dag_run_id=context["run_id"],
                    end_offset=plan["end_offset"],
                    connections=Connections(),
                )
            return result.to_dict()

        @task(outlets=outlets)
        def publish(results: list[dict]) -> dict:
            import logging

            from airflow.sdk.exceptions import AirflowSkipException

            from kafka_elt.ingest.summary import asset_extra, format_summary, summarize, wrote_new_rows

            # Indexing, not iterating: iteration probes one XCom past the end and logs an error.
            summary = summarize(spec.topic, [results[i] for i in range(len(results))])
            logging.getLogger(__name__).info("run summary\n%s", format_summary(summary))
            if not wrote_new_rows(summary):
                # No new rows: skipping emits no Asset event, so dbt does not rebuild for nothing.
                raise AirflowSkipException(
                    f"no new rows in {spec.qualified_table} (read {summary['read']}: all skipped as "
                    "already stored or dead-lettered); no Asset event"
                )
            outlet_events = get_current_context()["outlet_events"]
            for asset in outlets:
                outlet_events[asset].extra = asset_extra(summary)
            return summary

        publish(drain.expand(plan=plan()))

    return ingest()


for _spec in load_registry():
    globals()[_spec.dag_id] = build_ingest_dag(_spec)
