"""The ingestion against real Kafka, PostgreSQL and ClickHouse.

Each test works in a sandbox (tests/support/sandbox.py): its own topic, consumer group
and raw schema in both databases, dropped afterwards, so tests can reset offsets and
break tables without touching the pipeline's own raw tables.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kafka_elt.ingest.errors import SinkWriteError

# The messages of the issue, byte for byte.
ENVELOPE = (
    '{"schema": {"type": "struct", "name": "market_candle", "optional": false, "fields": ['
    '{"field": "type", "type": "string"}, {"field": "code", "type": "string"}, '
    '{"field": "opening_price", "type": "double"}, {"field": "high_price", "type": "double"}, '
    '{"field": "low_price", "type": "double"}, {"field": "trade_price", "type": "double"}, '
    '{"field": "candle_acc_trade_volume", "type": "double"}, {"field": "candle_acc_trade_price", "type": "double"}, '
    '{"field": "timestamp", "type": "int64"}, {"field": "stream_type", "type": "string"}]}, '
    '"payload": {"type": "candle", "code": "BTC-USD", "opening_price": 45000.0, "high_price": 46000.0, '
    '"low_price": 44000.0, "trade_price": 45500.0, "candle_acc_trade_volume": 1234.5, '
    '"candle_acc_trade_price": 56000000.0, "timestamp": 1617090000, "stream_type": "realtime"}}'
)
BARE = json.dumps(
    json.loads(ENVELOPE)["payload"] | {"code": "ETH-USD", "opening_price": 44500.25}
)  # a bar: low <= open <= high
FOOTPRINT = (
    '{"link": "/posts/42?ref=home", "method": "GET", "footprint_time": "2025-05-19T13:45:30.123+09:00"}'
)
FOOTPRINT_Z = '{"link": "/about", "method": "POST", "footprint_time": "2025-05-19T04:45:31Z"}'
# A recent Kafka timestamp (ms, with a fractional second): the broker's time-based
# retention (7 days) deletes a segment whose newest message is older than that, even the
# active one, so a fixed date in the past would let a retention check race the drain.
KAFKA_TS = (int(time.time()) - 3600) * 1000 + 123
KAFKA_TS_AT = datetime.fromtimestamp(KAFKA_TS // 1000, UTC).replace(microsecond=123000)


def pg_query(pg_conn, sql: str, params=None) -> list[tuple]:
    with pg_conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    pg_conn.commit()  # no open transaction left to block the sandbox's drop
    return rows


def pg_execute(pg_conn, sql: str) -> None:
    with pg_conn.cursor() as cur:
        cur.execute(sql)
    pg_conn.commit()


def counts(box, pg_conn, ch_client, table: str | None = None) -> tuple[int, int]:
    """(PostgreSQL rows, ClickHouse rows) of a sandbox table; ClickHouse counted exactly (FINAL)."""
    name = f"{box.schema}.{table or box.spec.table}"
    pg = pg_query(pg_conn, f"select count(*) from {name}")[0][0]
    ch = int(ch_client.command(f"select count() from {name} final"))
    ch_all = int(ch_client.command(f"select count() from {name}"))
    assert ch_all == ch, f"{name}: {ch_all - ch} duplicate rows in ClickHouse before merging"
    return pg, ch


def test_example_messages_arrive_typed_and_intact(candles, web_logs, pg_conn, ch_client):
    headers = [("source", b"kafka-connect"), ("trace", None), ("bin", b"\xff\x00")]
    candles.produce(
        [
            {
                "key": b"BTC-USD",
                "value": ENVELOPE.encode(),
                "headers": headers,
                "timestamp": KAFKA_TS,
                "partition": 0,
            },
            {"key": None, "value": BARE.encode(), "timestamp": KAFKA_TS + 1, "partition": 1},
        ]
    )
    web_logs.produce(
        [
            {"value": FOOTPRINT.encode(), "timestamp": KAFKA_TS, "partition": 2},
            {"value": FOOTPRINT_Z.encode(), "timestamp": KAFKA_TS + 1000, "partition": 2},
        ]
    )
    for box in (candles, web_logs):
        results = box.drain(dag_run_id="manual__example")
        assert sum(r.written["postgres"] for r in results) == 2 and sum(r.dead_lettered for r in results) == 0

    table = f"{candles.schema}.market_candle"
    rows = pg_query(
        pg_conn,
        f"select kafka_topic, kafka_partition, kafka_offset, kafka_key, kafka_value, kafka_timestamp, kafka_headers, "
        f"dag_run_id from {table} order by kafka_partition",
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [(candles.spec.topic, 0, 0), (candles.spec.topic, 1, 0)]
    assert [bytes(r[3]) if r[3] is not None else None for r in rows] == [b"BTC-USD", None]
    assert [r[4] for r in rows] == [ENVELOPE, BARE]  # exactly as received
    assert rows[0][5] == KAFKA_TS_AT
    assert rows[0][6] == [
        ["source", "kafka-connect"],
        ["trace", None],
        ["bin", "base64:" + base64.b64encode(b"\xff\x00").decode()],
    ]
    assert rows[1][6] == [] and {r[7] for r in rows} == {"manual__example"}

    ch_rows = ch_client.query(
        f"select kafka_partition, kafka_offset, kafka_key, kafka_value, kafka_timestamp, kafka_headers, dag_run_id "
        f"from {table} order by kafka_partition"
    ).result_rows
    assert [r[3] for r in ch_rows] == [ENVELOPE, BARE]
    assert [r[2] for r in ch_rows] == ["BTC-USD", None]
    assert ch_rows[0][4].replace(tzinfo=UTC) == KAFKA_TS_AT
    assert json.loads(ch_rows[0][5]) == rows[0][6] and ch_rows[1][5] == "[]"

    # Same load time in both engines: one batch, one ingested_at.
    pg_loaded = pg_query(pg_conn, f"select ingested_at from {table} order by kafka_partition")
    ch_loaded = ch_client.query(f"select ingested_at from {table} order by kafka_partition").result_rows
    assert [r[0] for r in pg_loaded] == [r[0].replace(tzinfo=UTC) for r in ch_loaded]

    # Typed: both engines read the values back as numbers and times.
    typed_pg = pg_query(
        pg_conn,
        f"select coalesce(kafka_value::jsonb -> 'payload', kafka_value::jsonb) ->> 'code', "
        f"(coalesce(kafka_value::jsonb -> 'payload', kafka_value::jsonb) ->> 'opening_price')::numeric, "
        f"(coalesce(kafka_value::jsonb -> 'payload', kafka_value::jsonb) ->> 'timestamp')::bigint "
        f"from {table} order by kafka_partition",
    )
    assert typed_pg == [
        ("BTC-USD", Decimal("45000.0"), 1617090000),
        ("ETH-USD", Decimal("44500.25"), 1617090000),
    ]
    typed_ch = ch_client.query(
        f"select if(JSONHas(kafka_value, 'payload'), JSONExtractRaw(kafka_value, 'payload'), kafka_value) as p, "
        f"JSONExtractString(p, 'code'), JSONExtractFloat(p, 'opening_price'), JSONExtractInt(p, 'timestamp') "
        f"from {table} order by kafka_partition"
    ).result_rows
    assert [r[1:] for r in typed_ch] == [("BTC-USD", 45000.0, 1617090000), ("ETH-USD", 44500.25, 1617090000)]

    logs = f"{web_logs.schema}.web_logs"
    visits = pg_query(
        pg_conn,
        f"select kafka_value, (kafka_value::jsonb ->> 'footprint_time')::timestamptz from {logs} order by kafka_offset",
    )
    assert visits == [
        (FOOTPRINT, datetime(2025, 5, 19, 4, 45, 30, 123000, UTC)),
        (FOOTPRINT_Z, datetime(2025, 5, 19, 4, 45, 31, tzinfo=UTC)),
    ]
    ch_visits = ch_client.query(
        f"select kafka_value, parseDateTime64BestEffort(JSONExtractString(kafka_value, 'footprint_time'), 3, 'UTC') "
        f"from {logs} order by kafka_offset"
    ).result_rows
    assert [(v, t.replace(tzinfo=UTC)) for v, t in ch_visits] == visits


def test_rerun_over_the_same_offsets_changes_no_row_count(candles, pg_conn, ch_client):
    from kafka_elt.producers.sample import candle_messages

    candles.produce(list(candle_messages(900, seed=21)))
    first = candles.drain(batch_size=100)
    assert sum(r.read for r in first) == 900
    assert counts(candles, pg_conn, ch_client) == (900, 900)
    assert sum(candles.committed().values()) == 900

    candles.reset_group(0)  # what `kafka-consumer-groups --reset-offsets --to-earliest` does
    assert set(candles.committed().values()) == {0}
    second = candles.drain(batch_size=100)
    assert sum(r.read for r in second) == 900
    assert sum(r.written["postgres"] + r.written["clickhouse"] for r in second) == 0
    assert sum(r.skipped_already_stored["postgres"] for r in second) == 900
    assert sum(r.skipped_already_stored["clickhouse"] for r in second) == 900
    assert counts(candles, pg_conn, ch_client) == (900, 900)

    # A brand-new consumer group reads everything again: still nothing new.
    candles.group = candles.group + "-new"
    third = candles.drain(batch_size=250)
    assert sum(r.read for r in third) == 900 and sum(r.written["postgres"] for r in third) == 0
    assert counts(candles, pg_conn, ch_client) == (900, 900)


def test_poison_messages_are_dead_lettered_and_the_messages_around_them_load(
    single_partition, pg_conn, ch_client
):
    box = single_partition
    good = ENVELOPE.encode()
    poison = [
        (b"\xff\xfe" + good[2:], "not UTF-8"),
        (good[:-9], "not valid JSON"),
        (
            ENVELOPE.replace('"code": "BTC-USD", ', "").encode(),
            "missing required field `code` - at `$.payload`",
        ),
        (ENVELOPE.replace('"timestamp": 1617090000, ', "").encode(), "missing required field `timestamp`"),
        (
            ENVELOPE.replace('"trade_price": 45500.0', '"trade_price": "45500"').encode(),
            "$.payload.trade_price",
        ),
        (BARE.replace('"timestamp": 1617090000', '"timestamp": "1617090000"').encode(), "$.timestamp"),
        (ENVELOPE.replace("45500.0", "NaN").encode(), "not valid JSON"),
        (None, "tombstone"),
        (b"", "not valid JSON"),
        (b'{"code": "BTC-USD", "timestamp": 1617090000, "type": "a\\u0000b"}', "\\u0000"),
    ]
    messages = []
    for value, _ in poison:
        messages += [(b"BTC-USD", good), (None, value)]
    messages.append((b"BTC-USD", good))
    box.produce(messages)

    (result,) = box.drain(batch_size=4)
    assert (result.read, result.written["postgres"], result.dead_lettered) == (21, 11, 10)
    assert result.committed_offset == 21 and result.stopped_by in ("end", "eof")
    assert counts(box, pg_conn, ch_client) == (11, 11)
    assert counts(box, pg_conn, ch_client, "dead_letter") == (10, 10)

    dead = pg_query(
        pg_conn,
        f"select kafka_offset, kafka_value, error_reason from {box.schema}.dead_letter order by kafka_offset",
    )
    assert [offset for offset, _, _ in dead] == list(range(1, 21, 2))
    for (offset, value, reason), (sent, expected) in zip(dead, poison, strict=True):
        assert (bytes(value) if value is not None else None) == sent, offset
        assert expected in reason, (offset, reason)
    ch_dead = ch_client.query(
        f"select kafka_offset, kafka_value, error_reason from {box.schema}.dead_letter order by kafka_offset",
        column_formats={"kafka_value": "bytes"},
    ).result_rows
    assert [(o, v, r) for o, v, r in ch_dead] == [
        (o, bytes(v) if v is not None else None, r) for o, v, r in dead
    ]
    loaded = pg_query(pg_conn, f"select kafka_offset from {box.schema}.market_candle order by 1")
    assert [o for (o,) in loaded] == list(range(0, 21, 2))


def test_budgets_bound_a_run_and_the_next_run_resumes(single_partition, pg_conn, ch_client):
    from kafka_elt.producers.sample import candle_messages

    box = single_partition
    box.produce(list(candle_messages(100, seed=5)))
    (first,) = box.drain(batch_size=10, max_messages=30)
    assert (first.read, first.committed_offset, first.stopped_by, first.lag) == (30, 30, "max_messages", 70)
    # Messages produced after a run has planned its end are the next run's work.
    from kafka_elt.ingest.consumer import plan_partitions
    from kafka_elt.ingest.drain import drain_partition

    (plan,) = plan_partitions(box.spec, box.connections, group_id=box.group)
    box.produce(list(candle_messages(50, seed=6)))
    second = drain_partition(
        box.spec, 0, dag_run_id="r2", end_offset=plan.end_offset, connections=box.connections, group_id=box.group,
        batch_size=25,
    )  # fmt: skip
    assert (second.start_offset, second.committed_offset, second.read, second.lag) == (30, 100, 70, 50)
    (third,) = box.drain()
    assert (third.start_offset, third.committed_offset) == (100, 150)
    (fourth,) = box.drain()
    assert (fourth.read, fourth.stopped_by) == (0, "up_to_date")
    assert counts(box, pg_conn, ch_client) == (150, 150)


def test_postgres_refusing_a_batch_fails_the_run_and_commits_nothing_of_it(
    single_partition, pg_conn, ch_client
):
    """A real PostgreSQL error mid-run (a check constraint stands in for a full disk or a
    lost privilege): earlier batches stay committed, the failing one is in neither
    database and not committed; after the fix a rerun loads everything once."""
    from kafka_elt.producers.sample import candle_messages

    box = single_partition
    box.produce(list(candle_messages(30, seed=8)))
    box.drain(max_messages=1)  # creates the sandbox's tables
    table = f"{box.schema}.market_candle"
    pg_execute(pg_conn, f"alter table {table} add constraint it_fault check (kafka_offset < 25) not valid")

    with pytest.raises(SinkWriteError) as failure:
        box.drain(batch_size=10)
    message = str(failure.value)
    assert "PostgreSQL write into" in message and table in message
    assert f"topic '{box.spec.topic}' partition 0 offsets 21..29" in message
    assert "no offset was committed" in message and "it_fault" in message
    assert box.committed() == {0: 21}
    assert counts(box, pg_conn, ch_client) == (21, 21)

    pg_execute(pg_conn, f"alter table {table} drop constraint it_fault")
    (rerun,) = box.drain(batch_size=10)
    assert (
        rerun.start_offset,
        rerun.read,
        rerun.skipped_already_stored["postgres"],
        rerun.skipped_already_stored["clickhouse"],
    ) == (
        21,
        9,
        0,
        0,
    )
    assert counts(box, pg_conn, ch_client) == (30, 30)
    assert box.committed() == {0: 30}


def test_clickhouse_refusing_a_batch_rolls_postgres_back(single_partition, pg_conn, ch_client):
    from kafka_elt.producers.sample import candle_messages

    box = single_partition
    box.produce(list(candle_messages(30, seed=9)))
    box.drain(max_messages=5)
    table = f"{box.schema}.market_candle"
    ch_client.command(f"alter table {table} add constraint it_fault check kafka_offset < 25")

    with pytest.raises(SinkWriteError) as failure:
        box.drain(batch_size=10)
    message = str(failure.value)
    assert "ClickHouse insert into" in message and "offsets 25..29" in message
    assert "PostgreSQL was rolled back and no offset was committed" in message
    assert box.committed() == {0: 25}
    assert counts(box, pg_conn, ch_client) == (25, 25)

    ch_client.command(f"alter table {table} drop constraint it_fault")
    box.drain(batch_size=10)
    assert counts(box, pg_conn, ch_client) == (30, 30)
    assert box.committed() == {0: 30}


def test_each_database_heals_on_its_own_after_a_replay(candles, pg_conn, ch_client):
    """A crash between the ClickHouse insert and the PostgreSQL commit leaves rows in
    ClickHouse only; the replay must fill PostgreSQL and leave ClickHouse alone."""
    from kafka_elt.producers.sample import candle_messages

    candles.produce(list(candle_messages(300, seed=10)))
    candles.drain(batch_size=50)
    table = f"{candles.schema}.market_candle"
    pg_execute(pg_conn, f"delete from {table} where kafka_offset % 7 = 3")
    missing = 300 - pg_query(pg_conn, f"select count(*) from {table}")[0][0]
    assert missing > 0

    candles.reset_group(0)
    replay = candles.drain(batch_size=50)
    assert sum(r.written["postgres"] for r in replay) == missing
    assert sum(r.written["clickhouse"] for r in replay) == 0
    assert counts(candles, pg_conn, ch_client) == (300, 300)


def test_a_missing_topic_is_named_in_the_error(single_partition):
    from kafka_elt.ingest.errors import TopicNotFound

    box = single_partition
    box.spec = box.spec.with_overrides(topic=box.spec.topic + "_missing")
    with pytest.raises(TopicNotFound, match=f"topic '{box.spec.topic}' is not on the broker") as failure:
        box.drain()
    assert "include/topics.yaml" in str(failure.value)
