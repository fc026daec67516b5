"""dbt builds the same marts in PostgreSQL and ClickHouse, and they agree.

Raw rows are written into the raw tables of both databases by the ingestion's own
sinks (DDL from include/sql, batches as the drain makes them; no Kafka), then the real
dbt (.venv-dbt) builds the project against each target. The tests prove:

* every model builds and every dbt test (and unit test) passes on both targets;
* every mart has the same row count and checksum in both databases (mart_checksums),
  and the candle and footprint marts hold the very same rows;
* re-sending an update for an existing candle (a later Kafka timestamp, another
  partition, a new offset) changes that one row in both databases and adds none, while
  a stale re-send (older timestamp) changes nothing;
* replaying offsets that are already loaded and rebuilding changes no mart.

The rows use Kafka offsets derived from the current time (far above real offsets) and
market codes starting with "TEST-", so the tests can run against a stack that already
holds ingested data; the global checks (checksums) then cover that data too.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from kafka_elt.dashboard.engines import ClickHouseEngine, PostgresEngine
from kafka_elt.dashboard.snapshot import checksums_by_engine, read_checksums
from kafka_elt.ingest.batch import Batch
from kafka_elt.ingest.clickhouse_sink import ClickHouseSink
from kafka_elt.ingest.connections import Connections
from kafka_elt.ingest.ddl import apply_ddl
from kafka_elt.ingest.postgres_sink import PostgresSink
from kafka_elt.ingest.validators import KINDS
from kafka_elt.settings import ENGINES, MARTS
from tests.support.pipeline import CANDLE_TOPIC, WEB_TOPIC

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = ROOT / "dbt"
DBT_EXECUTABLE = ROOT / ".venv-dbt" / "bin" / "dbt"
TARGETS = ENGINES  # one dbt target per engine, named after it
# The business columns of market_candle compared row by row across the engines.
CANDLE_COLUMNS = (
    "type",
    "code",
    '"timestamp"',
    "opening_price",
    "high_price",
    "low_price",
    "trade_price",
    "candle_acc_trade_volume",
    "candle_acc_trade_price",
    "stream_type",
    "candle_started_at",
    "updated_at",
    "kafka_partition",
    "kafka_offset",
)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: str
    timestamp: datetime | None


class Received:
    """A RawMessage as confluent_kafka hands it to the drain: the Message methods Batch reads."""

    _CREATE_TIME, _NOT_AVAILABLE = 1, 0  # confluent_kafka.TIMESTAMP_*

    def __init__(self, message: RawMessage) -> None:
        self.message = message

    def error(self) -> None:
        return None

    def offset(self) -> int:
        return self.message.offset

    def key(self) -> bytes | None:
        return None if self.message.key is None else self.message.key.encode()

    def value(self) -> bytes:
        return self.message.value.encode()

    def timestamp(self) -> tuple[int, int]:
        if self.message.timestamp is None:
            return self._NOT_AVAILABLE, -1
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return self._CREATE_TIME, (self.message.timestamp - epoch) // timedelta(milliseconds=1)

    def headers(self) -> None:
        return None


@dataclass
class RawBatch:
    candles: list[RawMessage] = field(default_factory=list)
    footprints: list[RawMessage] = field(default_factory=list)


# The test's raw rows go into the real raw tables, in partitions no topic of the stack
# has: the incremental models read each partition after the newest offset they hold
# (dbt/macros/rows.sql, after_stored_offsets), so rows in a real partition at offsets
# above the real ones would hide the pipeline's later messages of that partition.
PARTITION_BASE = 1000


class OffsetCounter:
    """Kafka offsets per partition, starting far above any real topic's offsets."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.next: dict[int, int] = {}

    def take(self, partition: int) -> int:
        offset = self.next.get(partition, self.base)
        self.next[partition] = offset + 1
        return offset


def candle_value(payload: dict, *, envelope: bool) -> str:
    """The message as the demo producer writes it: Connect envelope or bare payload."""
    from kafka_elt.producers.candles import SampleCandle, envelope_json, payload_json

    candle = SampleCandle(**payload)
    return envelope_json(candle) if envelope else payload_json(candle)


def generate_candles(
    rng: random.Random, offsets: OffsetCounter, now: datetime, hours: int
) -> list[RawMessage]:
    """1-minute candles for a few codes over `hours`, each re-sent 1-3 times as it updates.

    TEST-BTC is produced with the code as key (one partition, offset order); the others
    without key, so re-sends of one candle land in different partitions. A few messages
    carry a Kafka timestamp behind their predecessor in the partition (a producer whose
    clock went back): offset order must still win there.
    """
    start = (now - timedelta(hours=hours)).replace(second=0, microsecond=0)
    messages: list[tuple[datetime, datetime, str, dict, bool]] = []
    for code, price in (("TEST-BTC", 45000.0), ("TEST-ETH", 3000.0), ("TEST-SOL", 150.0)):
        for minute in range(hours * 60):
            candle_start = start + timedelta(minutes=minute)
            opening = round(price, 2)
            high = low = opening
            volume = 0.0
            for update in range(rng.randint(1, 3)):
                price = max(0.01, price * (1 + rng.gauss(0, 0.001)))
                trade = round(price, 2)
                high, low = max(high, trade), min(low, trade)
                volume += rng.uniform(0.001, 5.0)
                payload = {
                    "type": "candle",
                    "code": code,
                    "opening_price": opening,
                    "high_price": high,
                    "low_price": low,
                    "trade_price": trade,
                    "candle_acc_trade_volume": round(volume, 8),
                    "candle_acc_trade_price": round(volume * trade, 4) + 0.1 + 0.2,
                    "timestamp": int(candle_start.timestamp()),
                    "stream_type": "snapshot" if update == 0 and minute % 17 == 0 else "realtime",
                }
                produced = candle_start + timedelta(
                    seconds=10 + 20 * update, milliseconds=rng.randint(0, 999)
                )
                # Now and then the producer's clock jumps back 30 s for one message.
                skewed = update > 0 and minute % 40 == (0 if code == "TEST-BTC" else 7)
                kafka_ts = produced - timedelta(seconds=30) if skewed else produced
                messages.append((produced, kafka_ts, code, payload, rng.random() < 0.7))
    messages.sort(key=lambda m: m[0])
    result = []
    for _produced, kafka_ts, code, payload, envelope in messages:
        keyed = code == "TEST-BTC"
        partition = PARTITION_BASE + (0 if keyed else rng.randrange(3))
        result.append(
            RawMessage(
                CANDLE_TOPIC,
                partition,
                offsets.take(partition),
                code if keyed else None,
                candle_value(payload, envelope=envelope),
                kafka_ts,
            )
        )
    return result


def generate_footprints(
    rng: random.Random, offsets: OffsetCounter, now: datetime, count: int
) -> list[RawMessage]:
    """Page visits over many links and methods, written in many time zones."""
    paths = [f"/posts/{n}" for n in range(1, 40)] + ["/", "/about", "/login", "/search", "/api/items"]
    weights = [1 / (rank + 1) for rank in range(len(paths))]
    methods = ["GET"] * 12 + ["POST"] * 3 + ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    zones = [
        timezone(timedelta(hours=h, minutes=m)) for h, m in ((9, 0), (0, 0), (-5, 0), (5, 30), (-9, -30))
    ]
    result = []
    for _ in range(count):
        visited = now - timedelta(milliseconds=rng.randrange(36 * 3600 * 1000))
        path = rng.choices(paths, weights)[0]
        query = rng.choice(
            ["", "", "?ref=home", "?q=" + "".join(rng.choices(string.ascii_lowercase, k=5)), "#top"]
        )
        local = visited.astimezone(rng.choice(zones))
        style = rng.randrange(4)
        if style == 0:
            text = local.isoformat(timespec="milliseconds")
        elif style == 1:
            text = local.isoformat(timespec="seconds")
        elif style == 2:
            text = visited.isoformat(timespec="microseconds").replace("+00:00", "Z")
        else:
            text = visited.isoformat(timespec="seconds").replace("+00:00", "Z")
        value = json.dumps({"link": path + query, "method": rng.choice(methods), "footprint_time": text})
        partition = PARTITION_BASE + rng.randrange(3)
        result.append(RawMessage(WEB_TOPIC, partition, offsets.take(partition), None, value, visited))
    return result


# --------------------------------------------------------------------------- databases


def raw_specs():
    """The topics' registry entries: raw table names and schema, as the ingestion uses them."""
    from kafka_elt.ingest.registry import get_topic

    return {topic: get_topic(topic) for topic in (CANDLE_TOPIC, WEB_TOPIC)}


def ensure_raw_tables() -> None:
    """Create the raw layer as an ingestion run does (include/sql), in both engines."""
    connections = Connections()
    dbt_user = os.environ["DBT_POSTGRES_USER"]
    for spec in raw_specs().values():
        apply_ddl(spec, connections)
        pg = connections.postgres()
        try:
            with pg.cursor() as cur:
                # dbt reads the raw layer; the stack grants it already, this is idempotent.
                cur.execute(f'grant usage on schema {spec.raw_schema} to "{dbt_user}"')
                cur.execute(f'grant select on all tables in schema {spec.raw_schema} to "{dbt_user}"')
            pg.commit()
        finally:
            pg.close()


def raw_batches(messages: list[RawMessage]) -> dict[str, list[Batch]]:
    """topic -> the messages as the drain batches them: per partition, in offset order,
    each checked by the topic's validator."""
    specs = raw_specs()
    received: dict[tuple[str, int], list[Received]] = {}
    for m in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
        received.setdefault((m.topic, m.partition), []).append(Received(m))
    batches: dict[str, list[Batch]] = {}
    for (topic, partition), partition_messages in received.items():
        batch = Batch(topic, partition)
        batch.extend(partition_messages, KINDS[specs[topic].kind], end_offset=None)
        assert not len(batch.dead), f"generated messages were refused: {batch.dead.reasons[:3]}"
        batches.setdefault(topic, []).append(batch)
    return batches


def load_raw(messages: list[RawMessage], run_id: str) -> tuple[int, int]:
    """Write the messages into both raw tables with the ingestion's sinks, in the drain's
    order: stage in PostgreSQL, insert into ClickHouse, commit PostgreSQL. Returns the raw
    rows inserted (PostgreSQL, ClickHouse); offsets already stored are skipped."""
    connections, specs, ingested_at = Connections(), raw_specs(), datetime.now(UTC)
    pg_inserted = ch_inserted = 0
    for topic, batches in raw_batches(messages).items():
        pg = PostgresSink(connections.postgres(), specs[topic])
        ch = ClickHouseSink(connections.clickhouse(), specs[topic])
        try:
            for batch in batches:
                pg_inserted += pg.stage(batch, ingested_at, run_id).written
                ch_inserted += ch.write(batch, ingested_at, run_id).written
                pg.commit()
        finally:
            pg.close()
            ch.close()
    return pg_inserted, ch_inserted


class RacingClickHouseSink(ClickHouseSink):
    """A second writer of the same partition that looked for stored offsets before the
    first one inserted, so it inserts the batch again: the one way duplicates reach a
    ClickHouse raw table (see clickhouse_sink), which dbt's staging must absorb."""

    def _stored(self, table: str, batch: Batch, offsets: list[int]) -> set[int]:
        return set()


def load_clickhouse_duplicates(messages: list[RawMessage], run_id: str) -> None:
    """Store the (already loaded) messages once more in ClickHouse, as racing writers would."""
    connections, specs, ingested_at = Connections(), raw_specs(), datetime.now(UTC)
    for topic, batches in raw_batches(messages).items():
        ch = RacingClickHouseSink(connections.clickhouse(), specs[topic])
        try:
            for batch in batches:
                assert ch.write(batch, ingested_at, run_id).written == len(batch.raw)
        finally:
            ch.close()


def dbt_pg_connection():
    """The marts' schema belongs to the dbt role; read it as that role."""
    import psycopg2

    return psycopg2.connect(
        host=os.environ["DBT_POSTGRES_HOST"],
        port=int(os.environ["DBT_POSTGRES_PORT"]),
        user=os.environ["DBT_POSTGRES_USER"],
        password=os.environ["DBT_POSTGRES_PASSWORD"],
        dbname=os.environ["DBT_POSTGRES_DBNAME"],
    )


def pg_schema() -> str:
    return os.environ.get("DBT_POSTGRES_SCHEMA", "analytics")


def ch_database() -> str:
    return os.environ.get("DBT_CLICKHOUSE_SCHEMA", "analytics")


def pg_rows(sql: str) -> list[tuple]:
    conn = dbt_pg_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def normalize(value):
    """One Python value per SQL value, whichever driver returned it."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, float):
        raise AssertionError(f"floating-point value {value!r} in a mart: marts must hold exact decimals")
    return value


def candle_rows(ch_client, where: str) -> dict[str, list[tuple]]:
    columns = ", ".join(CANDLE_COLUMNS)
    order = 'order by code, "timestamp"'
    pg = pg_rows(f"select {columns} from {pg_schema()}.market_candle where {where} {order}")
    ch = ch_client.query(
        f"select {columns} from {ch_database()}.market_candle where {where} {order}"
    ).result_rows
    return {
        "postgres": [tuple(normalize(v) for v in row) for row in pg],
        "clickhouse": [tuple(normalize(v) for v in row) for row in ch],
    }


def checksums(ch_client, schema: str | None = None) -> dict[str, dict[str, tuple[int, str]]]:
    """engine -> mart -> (rows, checksum), read as the dashboard benchmark reads them;
    ``schema``: another build of the marts (default: the target's)."""
    pg = PostgresEngine(dbt_pg_connection())
    try:
        found = read_checksums(pg, f"{schema or pg_schema()}.mart_checksums")
    finally:
        pg.close()
    found += read_checksums(ClickHouseEngine(ch_client), f"{schema or ch_database()}.mart_checksums")
    return checksums_by_engine(found)


# --------------------------------------------------------------------------- dbt


def run_dbt(
    command: str,
    target: str,
    artifacts: Path,
    *extra: str,
    build_id: str | None = None,
    env_extra: dict[str, str] | None = None,
) -> list[dict]:
    """Run the real dbt CLI; return run_results' results. Fails the test with dbt's log tail."""
    missing = [
        name
        for name in (
            "DBT_POSTGRES_HOST",
            "DBT_POSTGRES_PORT",
            "DBT_POSTGRES_USER",
            "DBT_POSTGRES_PASSWORD",
            "DBT_POSTGRES_DBNAME",
            "DBT_CLICKHOUSE_HOST",
            "DBT_CLICKHOUSE_PORT",
            "DBT_CLICKHOUSE_USER",
            "DBT_CLICKHOUSE_PASSWORD",
        )
        if not os.environ.get(name)
    ]
    assert not missing, f"dbt needs {missing} in the environment (`source .stack/env`)"
    target_path = artifacts / target
    args = [
        str(DBT_EXECUTABLE),
        command,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target",
        target,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        *extra,
    ]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    if build_id:  # one build in both engines' build logs, as dbt_marts does it
        env["DBT_BUILD_ID"] = build_id
    env.update(env_extra or {})
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise AssertionError(
            f"`dbt {command} --target {target}` failed (exit {proc.returncode}):\n"
            + "\n".join(proc.stdout.splitlines()[-60:])
            + proc.stderr[-3000:]
        )
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    return results


def build_both(artifacts: Path) -> dict[str, list[dict]]:
    build_id = f"test_dbt_marts__{uuid.uuid4().hex[:12]}"
    return {target: run_dbt("build", target, artifacts, build_id=build_id) for target in TARGETS}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dbt-artifacts")


@pytest.fixture(scope="module")
def scenario(stack, artifacts):
    """Raw rows for a day of candles and 3,000 visits in both databases; marts built.

    Module-scoped (one load, one build for all tests). The sinks connect through the
    pipeline's Airflow connections, which the ``stack`` fixture exports (AIRFLOW_CONN_*).
    """
    ensure_raw_tables()
    now = datetime.now(UTC).replace(microsecond=0)
    run_id = f"test_dbt_marts__{int(time.time())}"
    rng = random.Random(20250519)
    offsets = OffsetCounter(base=time.time_ns() // 1000)
    batch = RawBatch(
        candles=generate_candles(rng, offsets, now, hours=26),
        footprints=generate_footprints(rng, offsets, now, count=3000),
    )
    load_raw(batch.candles, run_id)
    load_raw(batch.footprints, run_id)
    # ClickHouse: offsets stored twice (ReplacingMergeTree, not merged yet) must
    # still count once.
    load_clickhouse_duplicates(batch.candles[:5] + batch.candles[-5:], run_id + "_duplicate")
    load_clickhouse_duplicates(batch.footprints[:5], run_id + "_duplicate")
    first_build = build_both(artifacts)
    return {"batch": batch, "offsets": offsets, "run_id": run_id, "first_build": first_build}


# --------------------------------------------------------------------------- tests


def test_every_model_and_test_passes_on_both_targets(scenario):
    for target, results in scenario["first_build"].items():
        failed = [
            (r["unique_id"], r["status"], r.get("message"))
            for r in results
            # "warn": a warn-severity test found rows, which does not fail a build by design
            # (the README's data contract); other tests' data on the shared stack can do that.
            if r["status"] not in ("success", "pass", "warn")
        ]
        assert not failed, f"{target}: {failed}"
        kinds = {r["unique_id"].split(".")[0] for r in results}
        assert {"model", "test", "unit_test"} <= kinds, f"{target}: built only {kinds}"
        built = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
        assert set(MARTS) | {"mart_checksums"} <= built, f"{target}: missing marts {set(MARTS) - built}"


def test_marts_agree_between_postgres_and_clickhouse(scenario, ch_client):
    sums = checksums(ch_client)
    assert set(sums["postgres"]) == set(MARTS)
    for mart in MARTS:
        pg, ch = sums["postgres"][mart], sums["clickhouse"][mart]
        assert pg[0] > 0, f"{mart} is empty"
        assert pg == ch, f"{mart}: PostgreSQL (rows, checksum) {pg} != ClickHouse {ch}"


def test_candle_and_footprint_marts_hold_the_same_rows(scenario, ch_client):
    rows = candle_rows(ch_client, "code like 'TEST-%'")
    expected_candles = {(c["code"], c["timestamp"]) for c in map(_payload, scenario["batch"].candles)}
    assert len(rows["postgres"]) == len(expected_candles), "one row per (code, timestamp)"
    assert rows["postgres"] == rows["clickhouse"]

    ids = sorted((m.partition, m.offset) for m in scenario["batch"].footprints)
    lo = min(offset for _, offset in ids)
    sql = (
        "select kafka_partition, kafka_offset, link, request, footprint_time, link_path, visit_date "
        "from {schema}.user_footprint where kafka_offset >= {lo} order by kafka_partition, kafka_offset"
    )
    pg = [tuple(map(normalize, r)) for r in pg_rows(sql.format(schema=pg_schema(), lo=lo))]
    ch = [
        tuple(map(normalize, r)) for r in ch_client.query(sql.format(schema=ch_database(), lo=lo)).result_rows
    ]
    assert [(p, o) for p, o, *_ in pg] == ids
    assert pg == ch


def test_latest_message_wins_as_the_raw_data_says(scenario, ch_client):
    """An independent re-implementation of the rule in Python, checked against the mart."""
    per_partition: dict[tuple, dict[int, tuple]] = {}
    for message in scenario["batch"].candles:
        payload = _payload(message)
        key = (payload["code"], payload["timestamp"])
        heads = per_partition.setdefault(key, {})
        offset, newest, _ = heads.get(message.partition, (-1, datetime.min.replace(tzinfo=UTC), None))
        stamp = message.timestamp or datetime(1970, 1, 1, tzinfo=UTC)
        heads[message.partition] = (
            max(offset, message.offset),
            max(newest, stamp),
            payload if message.offset > offset else heads[message.partition][2],
        )
    expected = {}
    for key, heads in per_partition.items():
        partition, (offset, newest, payload) = max(heads.items(), key=lambda item: (item[1][1], item[0]))
        expected[key] = (Decimal(str(payload["trade_price"])).normalize(), partition, offset, newest)
    rows = candle_rows(ch_client, "code like 'TEST-%'")
    for engine in TARGETS:
        actual = {(r[1], r[2]): (r[6], r[12], r[13], r[11]) for r in rows[engine]}
        assert actual == expected, engine
    # The data must exercise the rule: candles where the message with the newest Kafka
    # timestamp is not the latest one (its partition already had a later offset).
    newest_stamp = {}
    for message in scenario["batch"].candles:
        payload = _payload(message)
        key = (payload["code"], payload["timestamp"])
        rank = (message.timestamp, message.partition, message.offset)
        newest_stamp[key] = max(newest_stamp.get(key, rank), rank)
    overruled = [key for key, (_, p, o, _) in expected.items() if newest_stamp[key][1:] != (p, o)]
    assert len(overruled) >= 5, overruled


def test_resent_candle_update_changes_that_row_only(scenario, ch_client, artifacts):
    before = candle_rows(ch_client, "code like 'TEST-%'")
    sums_before = checksums(ch_client)
    # The candle to update: a TEST-ETH candle (keyless), with its current state.
    target_row = next(row for row in before["postgres"] if row[1] == "TEST-ETH")
    code, ts, updated_at, partition = target_row[1], target_row[2], target_row[11], target_row[12]
    other = PARTITION_BASE + (partition - PARTITION_BASE + 1) % 3
    third = PARTITION_BASE + (partition - PARTITION_BASE + 2) % 3
    offsets: OffsetCounter = scenario["offsets"]
    new_price = round(float(target_row[6]) + 123.45, 2)
    payload = {
        "type": "candle",
        "code": code,
        "opening_price": float(target_row[3]),
        "high_price": max(float(target_row[4]), new_price),
        "low_price": float(target_row[5]),
        "trade_price": new_price,
        "candle_acc_trade_volume": float(target_row[7]) + 1.0,
        "candle_acc_trade_price": float(target_row[8]) + new_price,
        "timestamp": ts,
        "stream_type": "realtime",
    }
    stale = dict(payload, trade_price=1.0, low_price=1.0)
    resent = [
        # fresher: a later Kafka timestamp, in another partition -> wins
        RawMessage(
            CANDLE_TOPIC,
            other,
            offsets.take(other),
            None,
            candle_value(payload, envelope=True),
            updated_at + timedelta(seconds=1),
        ),
        # stale: an older Kafka timestamp in a third partition -> loses
        RawMessage(
            CANDLE_TOPIC,
            third,
            offsets.take(third),
            None,
            candle_value(stale, envelope=False),
            updated_at - timedelta(seconds=5),
        ),
    ]
    assert load_raw(resent, scenario["run_id"] + "_resend") == (2, 2)
    results = build_both(artifacts)
    for target, result in results.items():
        assert all(r["status"] in ("success", "pass", "warn") for r in result), target

    after = candle_rows(ch_client, "code like 'TEST-%'")
    sums_after = checksums(ch_client)
    for engine in TARGETS:
        assert len(after[engine]) == len(before[engine]), f"{engine}: a row was added or lost"
        changed = [(b, a) for b, a in zip(before[engine], after[engine], strict=True) if b != a]
        assert len(changed) == 1, f"{engine}: {len(changed)} rows changed"
        old, new = changed[0]
        assert (old[1], old[2]) == (new[1], new[2]) == (code, ts)
        assert old[6] != new[6]
        assert new[6] == Decimal(str(new_price)).normalize()
        assert new[11] == updated_at + timedelta(seconds=1)
        assert new[12] == other
        assert sums_after[engine]["market_candle"][0] == sums_before[engine]["market_candle"][0]
        assert sums_after[engine]["market_candle"][1] != sums_before[engine]["market_candle"][1]
    assert after["postgres"] == after["clickhouse"]
    assert sums_after["postgres"] == sums_after["clickhouse"]
    # What a dashboard sends to ClickHouse, a plain select without FINAL, sees one row
    # per key: the upsert deleted the old row rather than leaving it to a merge.
    plain, keys, merged = ch_client.query(
        f"select count(), uniqExact(code, timestamp), (select count() from {ch_database()}.market_candle final) "
        f"from {ch_database()}.market_candle"
    ).result_rows[0]
    assert plain == keys == merged


def test_replayed_offsets_and_rebuilds_change_no_mart(scenario, ch_client, artifacts):
    before = checksums(ch_client)
    replay = scenario["batch"].candles[:200] + scenario["batch"].footprints[:200]
    assert load_raw(replay, "replay") == (0, 0), "the sinks store an offset once"
    # Racing writers still leave duplicates in ClickHouse; the marts must not see them.
    load_clickhouse_duplicates(replay, "replay")
    build_both(artifacts)
    assert checksums(ch_client) == before


def test_first_build_of_one_topic_counts_unbuilt_marts_as_empty(scenario, ch_client, artifacts):
    """On a fresh stack the first dbt_marts run follows the first topic that sent
    anything (here the candles): mart_checksums is downstream of it and must build
    while the page-visit marts do not exist yet, counting them as empty."""
    schema = f"test_first_build_{uuid.uuid4().hex[:8]}"
    env = {"DBT_POSTGRES_SCHEMA": schema, "DBT_CLICKHOUSE_SCHEMA": schema}
    select = ("--select", "source:kafka.market_candle+")
    try:
        for target in TARGETS:
            results = run_dbt("build", target, artifacts / "first", *select, env_extra=env)
            built = {r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model.")}
            assert {"market_candle", "mart_checksums"} <= built and "user_footprint" not in built
        by_engine = checksums(ch_client, schema)
        assert by_engine["postgres"] == by_engine["clickhouse"]
        for mart in ("user_footprint", "page_views_hourly", "top_links_daily"):
            assert by_engine["postgres"][mart] == (0, "0"), mart
        assert by_engine["postgres"]["market_candle"][0] > 0
    finally:
        conn = dbt_pg_connection()
        with conn, conn.cursor() as cur:
            cur.execute(f"drop schema if exists {schema} cascade")
        conn.close()
        ch_client.command(f"drop database if exists {schema}")


def _payload(message: RawMessage) -> dict:
    value = json.loads(message.value)
    return value["payload"] if "schema" in value and isinstance(value.get("payload"), dict) else value


def _compiled_tests(run_dir: Path, folder: str) -> dict[str, str]:
    return {path.name: path.read_text() for path in (run_dir / folder).glob("*.sql")}


def test_incremental_build_tests_what_it_adds(scenario, artifacts):
    """dbt_marts' incremental builds (DBT_MART_TESTS=new_rows) test the messages the
    marts have not folded in yet (staging, by Kafka offset) and the rows the build wrote
    (the incremental marts, by built_at), the grain test every row sharing a key with
    one of those; the default tests the marts in full (dbt/macros/tests_where.sql)."""
    rng = random.Random(20261202)
    new = generate_footprints(rng, scenario["offsets"], datetime.now(UTC), count=40)
    assert load_raw(new, "tests_window") == (40, 40)
    build_id = f"test_dbt_marts__{uuid.uuid4().hex[:12]}"
    for scope in ("new_rows", "all"):
        for target in TARGETS:
            out = artifacts / f"window-{scope}"
            results = run_dbt("build", target, out, build_id=build_id, env_extra={"DBT_MART_TESTS": scope})
            failed = [
                (r["unique_id"], r["status"])
                for r in results
                if r["status"] not in ("success", "pass", "warn")
            ]
            assert not failed, f"{target} ({scope}): {failed}"
            models = out / target / "run" / "kafka_elt" / "models"
            staging = _compiled_tests(models, "staging/kafka/_kafka__models.yml")
            footprint_link = staging["not_null_stg_kafka__web_footprints_link.sql"]
            # offsets after those user_footprint holds, per partition of the test's topic
            assert f"kafka_topic = '{WEB_TOPIC}' and kafka_partition = {PARTITION_BASE}" in footprint_link
            assert "kafka_offset >" in footprint_link and "ingested_at" not in footprint_link
            assert "kafka_partition = " in staging["not_null_stg_kafka__market_candles_code.sql"]
            core = _compiled_tests(models, "marts/core/_core__models.yml")
            grain = [sql for sql in core.values() if "user_footprint" in sql and "row_count > 1" in sql]
            assert len(grain) == 1, sorted(core)
            if scope == "new_rows":
                assert "where built_at = cast(" in core["not_null_user_footprint_link.sql"]
                assert "(kafka_topic, kafka_partition, kafka_offset) in (select" in grain[0]
            else:
                assert "built_at" not in core["not_null_user_footprint_link.sql"]
                assert "built_at" not in grain[0]
                # every row: the relation itself, not a subquery, so that PostgreSQL's
                # grain test finds the unique index holding the key (a NULL check)
                assert "dbt_subquery" not in grain[0]
                assert ("pg_index" in grain[0]) == (target == "postgres")
