"""Run totals over partitions."""

from __future__ import annotations

from kafka_elt.ingest.drain import EngineCounts, PartitionResult
from kafka_elt.ingest.summary import format_summary, summarize


def result(partition, read, loaded, dead, skipped, lag, seconds) -> dict:
    r = PartitionResult("t", partition, 0, read, read, read=read, loaded=loaded, dead_lettered=dead, lag=lag,
                        seconds=seconds)  # fmt: skip
    r.postgres = EngineCounts(raw_inserted=loaded - skipped, raw_skipped=skipped, dead_inserted=dead)
    r.clickhouse = EngineCounts(raw_inserted=loaded, dead_inserted=dead)
    return r.to_dict()


def test_totals_and_rate():
    summary = summarize("t", [result(1, 100, 90, 10, 5, 7, 2.0), result(0, 300, 300, 0, 0, 0, 4.0)])
    assert [p["partition"] for p in summary["per_partition"]] == [0, 1]
    assert (summary["read"], summary["loaded"], summary["dead_lettered"], summary["lag"]) == (400, 390, 10, 7)
    assert summary["postgres_raw_inserted"] == 385 and summary["postgres_inserted"] == 395
    assert summary["postgres_skipped_duplicate"] == 5 and summary["clickhouse_skipped_duplicate"] == 0
    assert summary["clickhouse_raw_inserted"] == 390
    assert summary["seconds"] == 4.0 and summary["rate"] == 100.0  # the slowest partition bounds the run
    table = format_summary(summary)
    assert "topic 't': 2 partitions" in table and "total" in table and "skipped as already stored" in table


def test_empty_run():
    summary = summarize("t", [])
    assert summary["read"] == 0 and summary["rate"] == 0.0 and summary["partitions"] == 0
