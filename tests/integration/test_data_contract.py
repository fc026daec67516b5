"""One odd value must not become an outage: values a real feed sends (an exchange's
``candle.1m`` type, ``REALTIME`` in upper case, WebDAV's ``PROPFIND``) load, every mart in
both engines is still built and agrees, and the tests that do not expect those values
warn (stored for the dashboard page) instead of failing the build. Prices that make no
sense go to the dead letters at ingestion, with the reason, as the README's contract says.

Runs the pipeline's own DAGs through their schedules (topic watchers, asset events).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.support.pipeline import DELIVERY_TIMEOUT_S, produce, wait_quiet


def _candle(code: str, minute: int, **changes) -> str:
    payload = {
        "type": "candle",
        "code": code,
        "opening_price": 10.0,
        "high_price": 12.0,
        "low_price": 9.0,
        "trade_price": 11.0,
        "candle_acc_trade_volume": 1.5,
        "candle_acc_trade_price": 16.5,
        "timestamp": minute,
        "stream_type": "realtime",
    }
    payload.update(changes)
    return json.dumps({"schema": {"type": "struct", "name": "market_candle"}, "payload": payload})


def _pg_rows(pg_conn, sql: str, params: tuple = ()) -> list[tuple]:
    with pg_conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    pg_conn.commit()
    return rows


def test_real_feed_spellings_load_warn_and_keep_every_mart_built_and_agreeing(
    pipeline_api, kafka_bootstrap, pg_conn, ch_client
):
    code = f"ODD-{uuid.uuid4().hex[:6].upper()}"
    marker = f"it-contract-{uuid.uuid4().hex[:10]}"
    minute = int(time.time()) // 60 * 60
    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    produce(
        kafka_bootstrap,
        "market_candle",
        [
            _candle(code, minute - 120),
            _candle(code, minute - 60, type="candle.1m", stream_type="REALTIME"),
            _candle(code, minute, opening_price=None, high_price=None, low_price=None, trade_price=None),
            # Not a bar: the high is below the low. Dead-lettered, with the reason.
            _candle(code, minute - 180, high_price=8.0),
        ],
    )
    produce(
        kafka_bootstrap,
        "web-logs-topic",
        [
            json.dumps({"link": f"/{marker}/dav", "method": "PROPFIND", "footprint_time": now}),
            json.dumps({"link": f"/{marker}/get", "method": "get", "footprint_time": now}),
        ],
    )

    # Every message reaches its place in both engines.
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        pg = _pg_rows(
            pg_conn,
            "select (select count(*) from analytics.market_candle where code = %s),"
            " (select count(*) from analytics.user_footprint where link_path like %s)",
            (code, f"/{marker}/%"),
        )[0]
        ch = ch_client.query(
            "select (select count() from analytics.market_candle where code = {c:String}),"
            " (select count() from analytics.user_footprint where startsWith(link_path, {p:String}))",
            parameters={"c": code, "p": f"/{marker}/"},
        ).result_rows[0]
        if tuple(pg) == (3, 2) and tuple(ch) == (3, 2):
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"after {DELIVERY_TIMEOUT_S}s: PostgreSQL holds {pg}, ClickHouse {ch}; expected (3, 2)"
            )
        time.sleep(2)
    wait_quiet(pipeline_api, DELIVERY_TIMEOUT_S)

    # The values as the marts hold them: normalised case, the same in both engines.
    candle_sql = 'select "timestamp", type, stream_type, trade_price is null from analytics.market_candle where code = %s order by 1'
    pg_candles = [tuple(r) for r in _pg_rows(pg_conn, candle_sql, (code,))]
    ch_candles = [
        tuple(r)
        for r in ch_client.query(
            "select timestamp, type, stream_type, isNull(trade_price) from analytics.market_candle "
            "where code = {c:String} order by 1",
            parameters={"c": code},
        ).result_rows
    ]
    expected = [
        (minute - 120, "candle", "realtime", False),
        (minute - 60, "candle.1m", "realtime", False),
        (minute, "candle", "realtime", True),
    ]
    assert pg_candles == expected
    assert [(int(t), ty, st, bool(n)) for t, ty, st, n in ch_candles] == expected
    pg_methods = _pg_rows(
        pg_conn,
        "select request from analytics.user_footprint where link_path like %s order by 1",
        (f"/{marker}/%",),
    )
    ch_methods = ch_client.query(
        "select request from analytics.user_footprint where startsWith(link_path, {p:String}) order by 1",
        parameters={"p": f"/{marker}/"},
    ).result_rows
    assert [r[0] for r in pg_methods] == [r[0] for r in ch_methods] == ["GET", "PROPFIND"]

    # The priceless candle is no latest price; the priced one is.
    latest = _pg_rows(
        pg_conn, "select latest_trade_price from analytics.latest_price where code = %s", (code,)
    )
    assert [float(r[0]) for r in latest] == [11.0]

    # The bar that is not a bar is a dead letter in both engines, with the reason.
    reason_sql = "select error_reason from raw.dead_letter where kafka_value like %s"
    pg_dead = [r[0] for r in _pg_rows(pg_conn, reason_sql, (f'%"code": "{code}"%',))]
    ch_dead = [
        r[0]
        for r in ch_client.query(
            "select error_reason from raw.dead_letter where position(kafka_value, {c:String}) > 0",
            parameters={"c": f'"code": "{code}"'},
        ).result_rows
    ]
    assert len(pg_dead) == len(ch_dead) == 1 and pg_dead == ch_dead
    assert "prices are not a bar" in pg_dead[0]

    # dbt_marts stayed green: every run since the messages succeeded, with warnings stored.
    runs = [r for r in pipeline_api.runs("dbt_marts", limit=50) if (r.get("queued_at") or "") >= since]
    assert runs, "no dbt_marts run since the messages were produced"
    assert {r["state"] for r in runs} == {"success"}, runs
    warned = _pg_rows(
        pg_conn,
        "select target, test_id from monitoring.dbt_test_warning where recorded_at >= %s",
        (since,),
    )
    warned_tests = {(t, test.split(".")[2]) for t, test in warned}
    for target in ("postgres", "clickhouse"):
        assert any(t == target and "accepted_values_user_footprint_request" in n for t, n in warned_tests), (
            warned
        )
        # The priceless candle loads, and its price tests warn (it is no bar, not a bad one).
        assert any(
            t == target and n.startswith("not_null_market_candle_trade_price") for t, n in warned_tests
        ), warned
        # candle.1m is a known candle type and REALTIME is lower-cased: neither warns.
        assert not any(
            t == target and ("accepted_values_market_candle_type" in n or "stream_type" in n)
            for t, n in warned_tests
        ), warned

    # And the marts agree across the engines (rows and checksums of every mart).
    pg_sums = dict(
        (name, (int(rows), str(checksum)))
        for name, rows, checksum in _pg_rows(
            pg_conn, "select mart_name, row_count, checksum from analytics.mart_checksums"
        )
    )
    ch_sums = {
        name: (int(rows), str(checksum))
        for name, rows, checksum in ch_client.query(
            "select mart_name, row_count, checksum from analytics.mart_checksums"
        ).result_rows
    }
    assert pg_sums == ch_sums and len(pg_sums) == 6
