"""One run's totals over its partitions, the table the summary task logs, and the extra of
its Asset events: the same words as each partition's log line (PartitionResult).

read: messages read. written {engine}: valid messages newly written into that engine's
raw table. skipped_already_stored {engine}: valid messages it already held (a replay).
dead_lettered: poison messages, in the dead-letter tables. Per engine,
read = written + skipped_already_stored + dead_lettered.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka_elt.settings import ENGINE_LABELS, ENGINES

_COUNTS = ("read", "dead_lettered", "lag")
_PER_ENGINE = ("written", "skipped_already_stored")


def _engines(value: dict[str, int]) -> str:
    return " / ".join(str(value[engine]) for engine in ENGINES)


def summarize(topic: str, results: Iterable[dict]) -> dict:
    """Totals of the per-partition results (PartitionResult.to_dict()) of one run."""
    partitions = sorted(results, key=lambda r: r["partition"])
    totals: dict = {name: sum(r[name] for r in partitions) for name in _COUNTS}
    for name in _PER_ENGINE:
        totals[name] = {engine: sum(r[name][engine] for r in partitions) for engine in ENGINES}
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
                **{name: r[name] for name in (*_COUNTS, *_PER_ENGINE)},
                "stopped_by": r["stopped_by"],
                "rate": r["rate"],
            }
            for r in partitions
        ],
    }


def wrote_new_rows(summary: dict) -> bool:
    """Whether the run newly wrote any raw row, in either engine (what dbt would build on)."""
    return any(summary["written"].values())


def asset_extra(summary: dict) -> dict:
    """The extra of the run's raw-table Asset events: the summary's counts, same words."""
    return {
        "topic": summary["topic"],
        **{name: summary[name] for name in ("read", *_PER_ENGINE, "dead_lettered", "lag")},
    }


def format_summary(summary: dict) -> str:
    """A fixed-width table for the task log."""
    engines = " / ".join(ENGINE_LABELS[engine] for engine in ENGINES)
    header = (
        f"{'partition':>9} {'offsets':>21} {'read':>10} {'written':>19} {'already stored':>19} "
        f"{'dead-lettered':>13} {'lag':>10} {'msg/s':>9}  stopped by"
    )
    lines = [
        f"topic {summary['topic']!r}: {summary['partitions']} partitions (per engine: {engines})",
        header,
    ]
    for p in summary["per_partition"]:
        lines.append(
            f"{p['partition']:>9} {p['offsets']:>21} {p['read']:>10} {_engines(p['written']):>19} "
            f"{_engines(p['skipped_already_stored']):>19} {p['dead_lettered']:>13} {p['lag']:>10} "
            f"{p['rate']:>9.0f}  {p['stopped_by']}"
        )
    lines.append(
        f"{'total':>9} {'':>21} {summary['read']:>10} {_engines(summary['written']):>19} "
        f"{_engines(summary['skipped_already_stored']):>19} {summary['dead_lettered']:>13} "
        f"{summary['lag']:>10} {summary['rate']:>9.0f}"
    )
    lines.append(
        f"read {summary['read']}: written "
        + ", ".join(f"{ENGINE_LABELS[e]} {summary['written'][e]}" for e in ENGINES)
        + "; skipped as already stored "
        + ", ".join(f"{ENGINE_LABELS[e]} {summary['skipped_already_stored'][e]}" for e in ENGINES)
        + f"; dead-lettered {summary['dead_lettered']}"
    )
    return "\n".join(lines)
