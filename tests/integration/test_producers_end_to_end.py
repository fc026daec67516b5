"""The producers against the real broker: the web middleware and the sample-data CLI,
each followed by the ingestion into both databases."""

from __future__ import annotations

import subprocess
import sys

from fastapi import FastAPI
from starlette.testclient import TestClient

from kafka_elt.ingest.validators import parse_footprint_time
from kafka_elt.producers.middleware import FootprintMiddleware, footprint_producer


def test_middleware_events_reach_both_raw_tables(web_logs, kafka_bootstrap, pg_conn, ch_client):
    producer = footprint_producer(kafka_bootstrap)
    app = FastAPI()

    @app.get("/posts/{post_id}")
    def post(post_id: int):
        return {"id": post_id}

    app.add_middleware(FootprintMiddleware, producer=producer, topic=web_logs.spec.topic)
    with TestClient(app) as client:
        for n in range(40):
            assert client.get(f"/posts/{n}?ref=home").status_code == 200
        assert client.post("/posts/1").status_code == 405  # still a visit
    assert producer.flush(30) == 0

    results = web_logs.drain()
    assert sum(r.written["postgres"] for r in results) == 41 and sum(r.dead_lettered for r in results) == 0
    with pg_conn.cursor() as cur:
        cur.execute(
            f"select kafka_value::jsonb ->> 'link', kafka_value::jsonb ->> 'method', "
            f"(kafka_value::jsonb ->> 'footprint_time')::timestamptz, kafka_value::jsonb ->> 'footprint_time' "
            f"from {web_logs.spec.qualified_table}"
        )
        rows = cur.fetchall()
    pg_conn.commit()
    assert sorted(link for link, *_ in rows) == sorted(
        [f"/posts/{n}?ref=home" for n in range(40)] + ["/posts/1"]
    )
    assert sorted(method for _, method, *_ in rows).count("POST") == 1
    for *_, parsed, text in rows:
        assert parsed == parse_footprint_time(text)
    assert int(ch_client.command(f"select count() from {web_logs.spec.qualified_table}")) == 41


def test_sample_cli_fills_both_topics_with_a_share_of_poison(
    candles, web_logs, kafka_bootstrap, pg_conn, ch_client
):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kafka_elt.producers.sample",
            "--bootstrap",
            kafka_bootstrap,
            "--candles",
            "3000",
            "--footprints",
            "2000",
            "--malformed-share",
            "0.05",
            "--seed",
            "3",
            "--candle-topic",
            candles.spec.topic,
            "--footprint-topic",
            web_logs.spec.topic,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "candles: 3,000 delivered" in result.stderr and "page visits: 2,000 delivered" in result.stderr

    for box, total in ((candles, 3000), (web_logs, 2000)):
        results = box.drain()
        loaded, dead = sum(r.written["postgres"] for r in results), sum(r.dead_lettered for r in results)
        assert loaded + dead == total and 0.03 * total < dead < 0.07 * total
        if box is candles:  # keyed by code: the codes spread over the partitions
            assert sum(r.read > 0 for r in results) >= 2, [r.read for r in results]
        with pg_conn.cursor() as cur:
            cur.execute(f"select count(*) from {box.spec.qualified_table}")
            assert cur.fetchone()[0] == loaded
            cur.execute(
                f"select count(*), count(distinct error_reason) from {box.spec.qualified_dead_letter_table}"
            )
            dead_rows, reasons = cur.fetchone()
        pg_conn.commit()
        assert dead_rows == dead and reasons > 3
        assert int(ch_client.command(f"select count() from {box.spec.qualified_table}")) == loaded

    # Candle updates: the same (code, timestamp) re-sent with new prices, in order per key.
    with pg_conn.cursor() as cur:
        cur.execute(
            f"select p ->> 'code', p ->> 'timestamp', count(*), "
            f"array_agg((p ->> 'candle_acc_trade_volume')::float8 order by kafka_offset) "
            f"from (select coalesce(kafka_value::jsonb -> 'payload', kafka_value::jsonb) as p, kafka_offset, "
            f"kafka_partition from {candles.spec.qualified_table}) c "
            f"group by 1, 2, kafka_partition having count(*) > 1"
        )
        resent = cur.fetchall()
    pg_conn.commit()
    assert len(resent) > 100
    for *_, volumes in resent:
        assert volumes == sorted(volumes)  # later updates carry the larger accumulated volume
