"""`down` stops every process of the data services; `up` brings the same data back."""

from __future__ import annotations

import uuid

from kafka_elt.stack import airflow, clickhouse, postgres
from kafka_elt.stack.__main__ import all_services, down, up
from kafka_elt.stack.process import pid_alive, wait_until

DATA_SERVICES = ["postgres", "kafka", "clickhouse"]


def test_down_stops_every_process_and_up_restores_the_data(stack):
    marker = uuid.uuid4().hex
    pg = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    with pg, pg.cursor() as cur:
        cur.execute("create table if not exists monitoring.restart_probe (marker text)")
        cur.execute("insert into monitoring.restart_probe values (%s)", (marker,))
    pg.close()
    ch = clickhouse.client(stack)
    ch.command(
        "create table if not exists monitoring.restart_probe (marker String) engine = MergeTree order by marker"
    )
    ch.insert("monitoring.restart_probe", [[marker]], column_names=["marker"])
    ch.close()

    services = all_services(stack)
    pids = [svc.pid() for name in DATA_SERVICES for svc in services[name]]
    assert all(pids)
    # Airflow's scheduler, dag-processor and triggerer exit without PostgreSQL; supervisord
    # brings them back once it returns (tests/integration/test_stack_supervision.py).
    down(stack, DATA_SERVICES)
    assert not any(pid_alive(pid) for pid in pids)
    up(stack, DATA_SERVICES)

    pg = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    with pg, pg.cursor() as cur:
        cur.execute("select count(*) from monitoring.restart_probe where marker = %s", (marker,))
        assert cur.fetchone()[0] == 1
    pg.close()
    ch = clickhouse.client(stack)
    assert (
        ch.query(
            "select count() from monitoring.restart_probe where marker = {m:String}", {"m": marker}
        ).result_rows[0][0]
        == 1
    )
    ch.close()
    # Leave the stack as found for the next tests: Airflow back on its own.
    wait_until(lambda: airflow._healthy(stack), what="Airflow healthy again", timeout=90)
