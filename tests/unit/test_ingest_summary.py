"""Run totals over partitions, in the same words as each partition's log line and the
Asset events' extra: read, written and skipped_already_stored per engine, dead_lettered."""

from __future__ import annotations

from kafka_elt.ingest.drain import PartitionResult
from kafka_elt.ingest.summary import asset_extra, format_summary, summarize, wrote_new_rows

COUNT_WORDS = {"read", "written", "skipped_already_stored", "dead_lettered"}


def partition_result(partition, read, valid, dead, skipped, lag, seconds) -> PartitionResult:
    """PostgreSQL already held ``skipped`` of the ``valid`` messages; ClickHouse none."""
    r = PartitionResult(
        "t", partition, 0, read, read, read=read, dead_lettered=dead, lag=lag, seconds=seconds
    )
    r.written = {"postgres": valid - skipped, "clickhouse": valid}
    r.skipped_already_stored = {"postgres": skipped, "clickhouse": 0}
    return r


def result(*args) -> dict:
    return partition_result(*args).to_dict()


def test_totals_and_rate():
    summary = summarize("t", [result(1, 100, 90, 10, 5, 7, 2.0), result(0, 300, 300, 0, 0, 0, 4.0)])
    assert [p["partition"] for p in summary["per_partition"]] == [0, 1]
    assert (summary["read"], summary["dead_lettered"], summary["lag"]) == (400, 10, 7)
    assert summary["written"] == {"postgres": 385, "clickhouse": 390}
    assert summary["skipped_already_stored"] == {"postgres": 5, "clickhouse": 0}
    for engine in ("postgres", "clickhouse"):  # every message read is counted once per engine
        assert (
            summary["written"][engine] + summary["skipped_already_stored"][engine] + summary["dead_lettered"]
            == summary["read"]
        )
    assert summary["per_partition"][1]["skipped_already_stored"] == {"postgres": 5, "clickhouse": 0}
    assert summary["seconds"] == 4.0 and summary["rate"] == 100.0  # the slowest partition bounds the run
    table = format_summary(summary)
    assert "topic 't': 2 partitions" in table and "total" in table and "skipped as already stored" in table
    assert "written PostgreSQL 385, ClickHouse 390" in table
    assert "skipped as already stored PostgreSQL 5, ClickHouse 0; dead-lettered 10" in table


def test_empty_run():
    summary = summarize("t", [])
    assert summary["read"] == 0 and summary["rate"] == 0.0 and summary["partitions"] == 0
    assert not wrote_new_rows(summary)


def test_a_replay_reads_as_skipped_not_loaded():
    # The drain: 1486 read after a replay, 3 of them poison, everything already stored.
    replay = partition_result(0, 1486, 1483, 3, 1483, 0, 1.0)
    replay.skipped_already_stored["clickhouse"] = 1483
    replay.written["clickhouse"] = 0
    line = replay.line()
    assert (
        "read 1486: written 0 (PostgreSQL) / 0 (ClickHouse), skipped as already stored "
        "1483 (PostgreSQL) / 1483 (ClickHouse), dead-lettered 3;" in line
    )
    assert "loaded" not in line and "duplicates" not in line
    summary = summarize("t", [replay.to_dict()])
    assert not wrote_new_rows(summary)  # so publish emits no Asset event


def test_same_words_in_the_result_the_summary_and_the_asset_extra():
    summary = summarize("t", [result(0, 10, 9, 1, 0, 0, 1.0)])
    assert COUNT_WORDS <= set(result(0, 10, 9, 1, 0, 0, 1.0))
    assert COUNT_WORDS <= set(summary["per_partition"][0])
    extra = asset_extra(summary)
    assert set(extra) == COUNT_WORDS | {"topic", "lag"}
    assert extra["written"] == {"postgres": 9, "clickhouse": 9} and extra["dead_lettered"] == 1
    assert wrote_new_rows(summary)


def test_new_rows_in_one_engine_are_new_rows():
    only_clickhouse = partition_result(0, 5, 5, 0, 5, 0, 1.0)  # PostgreSQL held them all
    assert wrote_new_rows(summarize("t", [only_clickhouse.to_dict()]))
