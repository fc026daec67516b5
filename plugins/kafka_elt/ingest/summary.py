"""One run's totals over its partitions, and the table the summary task logs."""

from __future__ import annotations

from collections.abc import Iterable

_COUNTS = ("read", "loaded", "dead_lettered", "lag")


def summarize(topic: str, results: Iterable[dict]) -> dict:
    """Totals of the per-partition results (PartitionResult.to_dict()) of one run."""
    partitions = sorted(results, key=lambda r: r["partition"])
    totals = {name: sum(r[name] for r in partitions) for name in _COUNTS}
    for engine in ("postgres", "clickhouse"):
        totals[f"{engine}_raw_inserted"] = sum(r[engine]["raw_inserted"] for r in partitions)
        totals[f"{engine}_inserted"] = sum(
            r[engine]["raw_inserted"] + r[engine]["dead_inserted"] for r in partitions
        )
        totals[f"{engine}_skipped_duplicate"] = sum(
            r[engine]["raw_skipped"] + r[engine]["dead_skipped"] for r in partitions
        )
    # Partitions drain in parallel: the run took as long as its slowest partition.
    seconds = max((r["seconds"] for r in partitions), default=0.0)
    return {
        "topic": topic,
        "partitions": len(partitions),
        **totals,
        "seconds": round(seconds, 3),
        "rate": round(totals["read"] / seconds, 1) if seconds else 0.0,
        "per_partition": [
            {
                "partition": r["partition"],
                "offsets": f"{r['start_offset']}->{r['committed_offset']}",
                **{name: r[name] for name in _COUNTS},
                "skipped_duplicate": r["postgres"]["raw_skipped"] + r["postgres"]["dead_skipped"],
                "stopped_by": r["stopped_by"],
                "rate": r["rate"],
            }
            for r in partitions
        ],
    }


def format_summary(summary: dict) -> str:
    """A fixed-width table for the task log."""
    header = f"{'partition':>9} {'offsets':>21} {'read':>10} {'loaded':>10} {'dead':>8} {'dup':>8} {'lag':>10} {'msg/s':>9}  stopped by"
    lines = [f"topic {summary['topic']!r}: {summary['partitions']} partitions", header]
    for p in summary["per_partition"]:
        lines.append(
            f"{p['partition']:>9} {p['offsets']:>21} {p['read']:>10} {p['loaded']:>10} {p['dead_lettered']:>8} "
            f"{p['skipped_duplicate']:>8} {p['lag']:>10} {p['rate']:>9.0f}  {p['stopped_by']}"
        )
    lines.append(
        f"{'total':>9} {'':>21} {summary['read']:>10} {summary['loaded']:>10} {summary['dead_lettered']:>8} "
        f"{summary['postgres_skipped_duplicate']:>8} {summary['lag']:>10} {summary['rate']:>9.0f}"
    )
    lines.append(
        f"inserted: PostgreSQL {summary['postgres_inserted']}, ClickHouse {summary['clickhouse_inserted']}; "
        f"skipped as already stored: PostgreSQL {summary['postgres_skipped_duplicate']}, "
        f"ClickHouse {summary['clickhouse_skipped_duplicate']}"
    )
    return "\n".join(lines)
