"""Compare the engines only while both hold the same finished dbt build.

dbt_marts builds PostgreSQL and ClickHouse in two processes that start and end at
different moments, so between their ends (and during either build) the two engines hold
different marts: a comparison then reports a difference that is not in the data. Every
dbt invocation that changes models records itself in ``<mart schema>.dbt_build_log`` of
its engine when it starts and when it ends (``dbt/macros/build_log.sql``); dbt_marts
gives both engines' builds its run id as build id.

The rule, applied to every comparison (a dashboard query's answers, the mart checksums):

* before the queries, both engines' latest builds have finished, successfully, with the
  same build id, and no build has started since on either (``judge``);
* after the queries, the build log says the same (nothing started or ended meanwhile).

Otherwise the comparison waits and is done again (``on_same_build``), up to a bound; at
the bound the caller skips, saying what it waited for, and never reports a disagreement.
A difference found under the rule is in the data.

Not seen: a build that started before the engine's latest finished one and is still
running (two dbt invocations on one engine at once; dbt_marts runs one at a time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kafka_elt.dashboard.engines import Engine
from kafka_elt.settings import MART_SCHEMA

log = logging.getLogger(__name__)

BUILD_LOG_TABLE = "dbt_build_log"
BUILD_LOG_RELATION = f"{MART_SCHEMA}.{BUILD_LOG_TABLE}"
# The newest rows are enough: a start and an end row per invocation, and only the latest
# finished invocation and those started after it matter.
RECENT_ROWS = 200
# How long a comparison waits for both engines to hold the same finished build, and how
# often it looks again (two small reads per engine).
DEFAULT_WAIT_S = 600.0
DEFAULT_POLL_S = 2.0
# While waiting, the reason is logged when it changes and at least this often.
LOG_EVERY_S = 60.0

STARTED, SUCCESS = "started", "success"

T = TypeVar("T")


@dataclass(frozen=True)
class Invocation:
    """One dbt invocation on one engine, from its start and end rows."""

    invocation_id: str
    build_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    status: str = STARTED  # started (no end row yet) | success | error

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True)
class EngineBuild:
    """What one engine's build log says: its latest finished invocation, and the ones
    started after that one started and not finished (under way, or killed)."""

    engine: str
    latest: Invocation | None
    running: tuple[Invocation, ...] = ()
    has_log: bool = True

    def describe(self) -> str:
        if not self.has_log:
            return (
                f"{self.engine} has no build log ({BUILD_LOG_RELATION}): its marts were built by a dbt that "
                "does not record its builds; run dbt_marts"
            )
        parts = []
        for inv in self.running:
            parts.append(
                f"{self.engine} is building {inv.build_id} since {_fmt(inv.started_at)} "
                f"(dbt invocation {inv.invocation_id}; if no dbt runs, it was interrupted: run dbt_marts)"
            )
        if self.latest is None:
            parts.append(f"{self.engine} has no finished dbt build")
        else:
            done = "finished" if self.latest.status == SUCCESS else f"ended with {self.latest.status}"
            holds = "held" if self.running else "holds"
            parts.append(
                f"{self.engine} {holds} build {self.latest.build_id} {done} at {_fmt(self.latest.finished_at)}"
            )
        return ", ".join(parts)


@dataclass(frozen=True)
class Verdict:
    """Whether the engines may be compared now; if not, why (for the log)."""

    comparable: bool
    build_id: str | None
    reason: str


@dataclass(frozen=True)
class Guarded(Generic[T]):
    """A comparison's inputs, read while both engines held build ``build_id``."""

    value: T
    build_id: str
    attempts: int


class BuildsUnsettled(RuntimeError):
    """The engines did not hold the same finished dbt build within the wait; the message
    says what was waited for. Callers skip: nothing was compared."""


def _fmt(value: dt.datetime | None) -> str:
    return "-" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc(value: dt.datetime) -> dt.datetime:
    """ClickHouse hands back naive datetimes for DateTime64(_, 'UTC') columns."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def invocations(rows: Iterable[Sequence]) -> list[Invocation]:
    """Rows (invocation_id, build_id, status, started_at, finished_at) of the build log,
    a start row and (once it ended) an end row per invocation, as one Invocation each."""
    found: dict[str, Invocation] = {}
    for invocation_id, build_id, status, started_at, finished_at in rows:
        key = str(invocation_id)
        inv = found.get(key) or Invocation(key, str(build_id), _utc(started_at))
        if finished_at is not None and status != STARTED:
            inv = dataclasses.replace(inv, finished_at=_utc(finished_at), status=str(status))
        found[key] = inv
    return list(found.values())


def engine_build(engine: str, invocations: Iterable[Invocation]) -> EngineBuild:
    """The engine's latest finished invocation, and the unfinished ones started after it
    started: a build the benchmark must not read in the middle of.

    An unfinished invocation that started before the latest finished one is ignored: an
    Airflow retry of the same build, or a dbt that was killed and has been built over
    since."""
    invs = list(invocations)
    finished = [i for i in invs if i.finished]
    latest = max(finished, key=lambda i: (i.finished_at, i.started_at), default=None)
    running = tuple(
        sorted(
            (i for i in invs if not i.finished and (latest is None or i.started_at > latest.started_at)),
            key=lambda i: i.started_at,
        )
    )
    return EngineBuild(engine, latest, running)


def judge(builds: Sequence[EngineBuild]) -> Verdict:
    """Compare now only if every engine's latest build finished successfully, the build
    ids are equal and no engine is building."""
    described = "; ".join(b.describe() for b in builds)
    if any(not b.has_log or b.running or b.latest is None or b.latest.status != SUCCESS for b in builds):
        return Verdict(False, None, described)
    ids = {b.latest.build_id for b in builds if b.latest is not None}
    if len(ids) > 1:
        return Verdict(False, None, f"the engines hold different dbt builds: {described}")
    return Verdict(True, ids.pop(), described)


def _exists_sql(engine: Engine) -> str:
    if engine.name == "clickhouse":
        return f"exists table {BUILD_LOG_RELATION}"
    return f"select to_regclass('{BUILD_LOG_RELATION}') is not null"


READ_SQL = (
    f"select invocation_id, build_id, status, started_at, finished_at from {BUILD_LOG_RELATION} "
    f"order by started_at desc limit {RECENT_ROWS}"
)


class BuildLogUnreadable(RuntimeError):
    """Reading the build log failed (not: the log is missing); names engine and table."""


def read_build(engine: Engine) -> EngineBuild:
    """One engine's build state, from its build log (two small reads, not timed)."""
    try:
        ((exists,),) = engine.fetch(_exists_sql(engine))
        if not exists:
            return EngineBuild(engine.name, None, (), has_log=False)
        rows = engine.fetch(READ_SQL)
    except Exception as exc:
        raise BuildLogUnreadable(
            f"reading the dbt build log {BUILD_LOG_RELATION} on {engine.name} failed: {exc}. "
            "Check that the engine is up and that the benchmark's connection may read the mart schema."
        ) from exc
    return engine_build(engine.name, invocations(rows))


def read_builds(engines: Sequence[Engine]) -> list[EngineBuild]:
    return [read_build(e) for e in engines]


def describe_change(before: Sequence[EngineBuild], after: Sequence[EngineBuild]) -> str:
    changed = [a.describe() for b, a in zip(before, after, strict=True) if a != b]
    return "; ".join(changed) or "no change"


def _attempt(
    read: Callable[[], Sequence[EngineBuild]], work: Callable[[], T], before: list[EngineBuild], what: str
) -> tuple[bool, T | None, str]:
    """Run ``work`` once; (settled, its value, why not settled)."""
    try:
        value = work()
    except Exception as exc:
        after = list(read())
        if after == before:
            raise  # the same build before and after: a real failure
        return False, None, f"{what} failed while dbt rebuilt ({exc}): {describe_change(before, after)}"
    after = list(read())
    if after == before:
        return True, value, ""
    return False, None, f"the dbt builds changed during {what}: {describe_change(before, after)}"


def on_same_build(
    read: Callable[[], Sequence[EngineBuild]],
    work: Callable[[], T],
    *,
    what: str,
    wait_s: float = DEFAULT_WAIT_S,
    poll_s: float = DEFAULT_POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Guarded[T]:
    """Run ``work`` (the queries whose answers are compared) while every engine holds
    the same finished dbt build, and return its value with that build's id.

    Reads the build state before and after ``work``: if the engines hold different
    builds or one is building, waits (``poll_s`` between looks); if the state changed
    while ``work`` ran, runs it again at once (its value mixes builds). If ``work``
    raises while the state changed (a relation dbt was swapping), that is a change too;
    if the state did not change, its exception is raised. Raises BuildsUnsettled once
    ``wait_s`` has passed without a settled run of ``work``.
    """
    deadline = clock() + wait_s
    attempts = 0
    reason, logged_reason, logged_at = "", "", -math.inf
    while True:
        before = list(read())
        verdict = judge(before)
        if verdict.comparable:
            attempts += 1
            settled, value, reason = _attempt(read, work, before, what)
            if settled:
                if attempts > 1 or logged_reason:
                    log.info("%s: both engines hold dbt build %s; compared", what, verdict.build_id)
                return Guarded(value, verdict.build_id, attempts)  # type: ignore[arg-type]
            log.info("%s; doing it again", reason)
            logged_reason, logged_at = reason, clock()
            if clock() >= deadline:
                break
            continue
        reason = verdict.reason
        now = clock()
        if now >= deadline:
            break
        if reason != logged_reason or now - logged_at >= LOG_EVERY_S:
            log.info(
                "%s waits for both engines to hold the same finished dbt build (%.0fs left): %s",
                what,
                deadline - now,
                reason,
            )
            logged_reason, logged_at = reason, now
        sleep(max(0.0, min(poll_s, deadline - now)))
    raise BuildsUnsettled(
        f"{what} not compared: the engines did not hold the same finished dbt build within {wait_s:.0f}s "
        f"(comparing during a rebuild would report differences that are not in the data). Last seen: "
        f"{reason}. It is compared again at the next run (after dbt_marts)."
    )
