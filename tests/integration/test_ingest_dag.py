"""The generated ingestion DAG, run in-process with ``dag.test()`` against the real stack.

The test adds a sandbox topic (own topic, consumer group, raw schema and table) to a copy
of the topic registry, exactly as one adds a topic in production, and lets
``dags/kafka_ingest.py`` generate its DAG. ``dag.test()`` then runs the real tasks (DDL and
partition plan, mapped drains, summary and Asset events) without touching the pipeline's
own tables. (``dag.test()`` serialises the DAGs it finds in the dags folder, so the DAG
has to come from there, not from a factory call in the test.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kafka_elt.ingest.registry import REGISTRY_FILE
from kafka_elt.producers.sample import candle_messages
from tests.support.sandbox import open_sandbox

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "kafka_ingest.py"


def asset_events(dag_id: str) -> list[tuple[str, dict]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == dag_id)
            .order_by(AssetEvent.id)
        ).all()
    return [(name, extra) for name, extra in rows]


@pytest.fixture
def sandbox_dag(stack, kafka_bootstrap, tmp_path, monkeypatch):
    from airflow.api.common.delete_dag import delete_dag
    from airflow.dag_processing.dagbag import DagBag

    # Imported before the registry is swapped: kafka_elt.assets builds RAW_ASSETS (what
    # dbt_marts schedules on) at import, and must keep the real registry's for later tests.
    import kafka_elt.assets  # noqa: F401

    box = open_sandbox("market_candle", kafka_bootstrap, partitions=3)
    tag = box.schema.removeprefix("it_")
    registry = yaml.safe_load(REGISTRY_FILE.read_text())
    registry["topics"][box.spec.topic] = {
        "table": f"candles_{tag}",
        "kind": "market_candle",
        "raw_schema": box.schema,
        "consumer_group": box.group,
        "schedule": None,
        # No topic watcher: dag.test() runs it here, the stack's triggerer must not.
        "watch": False,
        "batch_size": 100,
    }
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump(registry))
    monkeypatch.setenv("KAFKA_ELT_TOPICS_FILE", str(path))
    box.spec = box.spec.with_overrides(table=f"candles_{tag}", consumer_group=box.group, batch_size=100)

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags[box.spec.dag_id]
    yield box, dag
    try:
        delete_dag(dag.dag_id)
    finally:
        box.close()


def task_states(run) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def test_dag_run_loads_both_databases_and_emits_assets_only_when_rows_are_new(
    sandbox_dag, pg_conn, ch_client
):
    box, dag = sandbox_dag
    box.produce(list(candle_messages(600, malformed_share=0.05, seed=31)))

    run = dag.test()
    states = task_states(run)
    assert str(run.state) == "success", states
    assert {k: v for k, v in states.items() if k[0] == "drain"} == {("drain", i): "success" for i in range(3)}
    assert states[("publish", -1)] == "success"

    table = box.spec.qualified_table
    with pg_conn.cursor() as cur:
        cur.execute(f"select count(*), count(distinct dag_run_id) from {table}")
        pg_rows, run_ids = cur.fetchone()
        cur.execute(f"select count(*) from {box.spec.qualified_dead_letter_table}")
        (pg_dead,) = cur.fetchone()
    pg_conn.commit()
    ch_rows = int(ch_client.command(f"select count() from {table}"))
    ch_dead = int(ch_client.command(f"select count() from {box.spec.qualified_dead_letter_table}"))
    assert pg_rows == ch_rows and pg_dead == ch_dead and pg_rows + pg_dead == 600 and pg_dead > 0
    assert run_ids == 1
    assert sum(box.committed().values()) == 600

    events = asset_events(dag.dag_id)
    assert sorted(name for name, _ in events) == [f"clickhouse.{table}", f"postgres.{table}"]
    assert {extra["written"]["postgres"] for _, extra in events} == {pg_rows}

    # Reset the consumer group: the DAG re-reads everything, changes no row count, and,
    # with no new rows, skips publish: no new Asset event, no dbt run for nothing.
    box.reset_group(0)
    replay = dag.test()
    assert str(replay.state) == "success"
    assert task_states(replay)[("publish", -1)] == "skipped"
    assert len(asset_events(dag.dag_id)) == 2
    assert int(ch_client.command(f"select count() from {table}")) == ch_rows
    with pg_conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        assert cur.fetchone()[0] == pg_rows
    pg_conn.commit()
