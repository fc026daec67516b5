"""Messages arrive -> the topic watchers start the ingestion runs -> dbt_marts follows ->
the messages are in both engines' marts, with no run triggered by hand, also across a
restart of the triggerer that runs the watchers.

Runs against the real stack and the pipeline's own DAGs, topics and marts (that is the
path under test). The messages carry a marker (link path and candle code unique to this
test) so that the check finds exactly them among whatever else the stack holds.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from tests.support.pipeline import (
    DELIVERY_TIMEOUT_S,
    PIPELINE_DAGS,
    candles,
    footprints,
    produce,
    wait_for_marts,
)


def _triggerer(stack):
    from kafka_elt.stack import airflow

    (service,) = [s for s in airflow.services(stack) if s.name == "airflow-triggerer"]
    return service


def _runs_since(api, dag_id: str, since: datetime) -> list[dict]:
    runs = api.runs(dag_id, limit=50)
    return [r for r in runs if (r.get("queued_at") or "") >= since.isoformat().replace("+00:00", "Z")]


def test_messages_reach_both_marts_through_watchers_and_asset_events(
    pipeline_api, stack, kafka_bootstrap, pg_conn, ch_client
):
    marker = f"it-watch-{uuid.uuid4().hex[:10]}"
    code = f"ITW-{uuid.uuid4().hex[:6].upper()}"
    since = datetime.now(UTC)

    produce(kafka_bootstrap, "web-logs-topic", footprints(marker, 30))
    produce(kafka_bootstrap, "market_candle", candles(code, 5))
    first = wait_for_marts(pg_conn, ch_client, marker, code, (30, 5), DELIVERY_TIMEOUT_S)

    # The watcher's state is Kafka's: messages produced while the triggerer is down are
    # seen when it is back. And messages arriving while a run is active are taken by a
    # later run, not by the clock: a third burst follows while the second is loading.
    triggerer = _triggerer(stack)
    triggerer.stop()
    try:
        produce(kafka_bootstrap, "web-logs-topic", footprints(marker + "/b", 10))
    finally:
        triggerer.start()
    time.sleep(3)
    produce(kafka_bootstrap, "web-logs-topic", footprints(marker + "/c", 10))
    second = wait_for_marts(pg_conn, ch_client, marker, code, (50, 5), DELIVERY_TIMEOUT_S)
    print(f"first burst in both marts after {first:.1f}s, the rest (triggerer restarted) after {second:.1f}s")

    for dag_id in PIPELINE_DAGS:
        runs = _runs_since(pipeline_api, dag_id, since)
        kinds = {r["run_type"] for r in runs}
        assert "asset_triggered" in kinds, f"{dag_id}: no asset-triggered run since the messages ({runs})"
        assert "manual" not in kinds, f"{dag_id} was triggered by hand: {runs}"
        # One active run at a time, at most: the watcher and asset events fold, never pile up.
        assert sum(1 for r in runs if r["state"] in ("queued", "running")) <= 1
