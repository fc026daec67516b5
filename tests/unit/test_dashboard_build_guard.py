"""The benchmark compares the engines only while both hold the same finished dbt build:
the decision (compare, wait, retry, skip) on build logs made up here, no database."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import pytest
import yaml

from kafka_elt.dashboard import build_guard as bg
from kafka_elt.dashboard.build_guard import (
    BuildLogUnreadable,
    BuildsUnsettled,
    EngineBuild,
    Invocation,
    engine_build,
    invocations,
    judge,
    on_same_build,
    read_build,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2025, 5, 19, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def done(
    build_id: str, started: float, finished: float, status: str = "success", inv: str = ""
) -> Invocation:
    return Invocation(inv or f"inv-{build_id}-{started}", build_id, at(started), at(finished), status)


def running(build_id: str, started: float, inv: str = "") -> Invocation:
    return Invocation(inv or f"inv-{build_id}-{started}", build_id, at(started))


def state(engine: str, *invs: Invocation) -> EngineBuild:
    return engine_build(engine, invs)


def pg_ch(pg: list[Invocation], ch: list[Invocation]) -> list[EngineBuild]:
    return [state("postgres", *pg), state("clickhouse", *ch)]


# --------------------------------------------------------------------------- reading the log


def test_start_and_end_rows_make_one_invocation_and_naive_clickhouse_times_are_utc():
    naive = dt.datetime(2025, 5, 19, 12, 0)
    rows = [
        ("b", "run-2", "started", naive + dt.timedelta(seconds=60), None),
        ("a", "run-1", "success", naive, naive + dt.timedelta(seconds=30)),
        ("a", "run-1", "started", naive, None),
    ]
    found = {i.invocation_id: i for i in invocations(rows)}
    assert found["a"] == Invocation("a", "run-1", T0, at(30), "success")
    assert found["b"] == Invocation("b", "run-2", at(60))
    assert not found["b"].finished


def test_latest_finished_build_and_the_builds_started_after_it():
    s = state("postgres", done("run-1", 0, 30), done("run-2", 60, 90), running("run-3", 100))
    assert s.latest.build_id == "run-2"
    assert [i.build_id for i in s.running] == ["run-3"]


def test_an_unfinished_invocation_older_than_the_latest_finished_one_is_not_building():
    # An Airflow retry of the same build after its first attempt was killed, or a dbt
    # killed long ago and built over since: neither is writing any more.
    s = state("postgres", running("run-1", 0, inv="attempt-1"), done("run-1", 20, 50, inv="attempt-2"))
    assert s.latest.invocation_id == "attempt-2"
    assert s.running == ()


def test_a_build_started_while_the_latest_one_ran_is_still_building():
    s = state("clickhouse", done("run-1", 0, 50), running("laptop", 10))
    assert [i.build_id for i in s.running] == ["laptop"]


# --------------------------------------------------------------------------- the verdict


def test_same_finished_build_on_both_engines_is_compared():
    verdict = judge(pg_ch([done("run-1", 0, 30)], [done("run-1", 0, 40)]))
    assert verdict.comparable
    assert verdict.build_id == "run-1"


def test_different_builds_wait_and_say_which():
    verdict = judge(pg_ch([done("run-2", 60, 90)], [done("run-1", 0, 40)]))
    assert not verdict.comparable
    assert verdict.build_id is None
    assert "different dbt builds" in verdict.reason
    assert "postgres holds build run-2 finished at 2025-05-19 12:01:30 UTC" in verdict.reason
    assert "clickhouse holds build run-1 finished at 2025-05-19 12:00:40 UTC" in verdict.reason


def test_a_build_in_progress_on_either_engine_waits():
    # The case: postgres has finished run-2, clickhouse is still building it.
    verdict = judge(
        pg_ch([done("run-1", 0, 30), done("run-2", 60, 70)], [done("run-1", 0, 40), running("run-2", 60)])
    )
    assert not verdict.comparable
    assert "clickhouse is building run-2 since 2025-05-19 12:01:00 UTC" in verdict.reason
    assert "postgres holds build run-2 finished at" in verdict.reason
    # Both building the same run: the same ids, but nothing finished yet.
    both = judge(
        pg_ch([done("run-1", 0, 30), running("run-2", 60)], [done("run-1", 0, 40), running("run-2", 60)])
    )
    assert not both.comparable


def test_a_failed_build_waits_for_the_next_one():
    verdict = judge(pg_ch([done("run-1", 0, 30, status="error")], [done("run-1", 0, 40)]))
    assert not verdict.comparable
    assert "postgres holds build run-1 ended with error" in verdict.reason


def test_no_build_or_no_log_waits():
    assert not judge(pg_ch([], [done("run-1", 0, 40)])).comparable
    no_log = judge(
        [EngineBuild("postgres", None, (), has_log=False), state("clickhouse", done("run-1", 0, 4))]
    )
    assert not no_log.comparable
    assert "postgres has no build log (analytics.dbt_build_log)" in no_log.reason


# --------------------------------------------------------------------------- the loop


class Clock:
    """Monotonic time that only moves when the code under test sleeps or works."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Log:
    """Build states returned one after another (the last one repeats)."""

    def __init__(self, *states: list[EngineBuild]) -> None:
        self.states = list(states)
        self.reads = 0

    def __call__(self) -> list[EngineBuild]:
        self.reads += 1
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


SAME = pg_ch([done("run-1", 0, 30)], [done("run-1", 0, 40)])
CH_BUILDING = pg_ch(
    [done("run-1", 0, 30), done("run-2", 60, 70)], [done("run-1", 0, 40), running("run-2", 60)]
)
SAME_2 = pg_ch([done("run-2", 60, 70)], [done("run-2", 60, 80)])
PG_BUILDING = pg_ch([done("run-1", 0, 30), running("run-2", 60)], [done("run-1", 0, 40)])


def guarded(log: Log, work, clock: Clock, wait_s: float = 600, poll_s: float = 5):
    return on_same_build(
        log, work, what="query q", wait_s=wait_s, poll_s=poll_s, clock=clock, sleep=clock.sleep
    )


def test_same_finished_build_compares_at_once():
    clock, calls = Clock(), []
    result = guarded(Log(SAME), lambda: calls.append(1) or "answers", clock)
    assert (result.value, result.build_id, result.attempts) == ("answers", "run-1", 1)
    assert calls == [1]
    assert clock.sleeps == []


def test_waits_while_a_build_runs_then_compares_the_new_build(caplog):
    clock = Clock()
    log = Log(CH_BUILDING, CH_BUILDING, CH_BUILDING, SAME_2)
    with caplog.at_level(logging.INFO, logger=bg.__name__):
        result = guarded(log, lambda: "answers", clock)
    assert result.build_id == "run-2"
    assert clock.sleeps == [5, 5, 5]
    # Said once what it waits for (not at every look), and that it compared.
    waiting = [r.getMessage() for r in caplog.records if "waits for" in r.getMessage()]
    assert len(waiting) == 1
    assert "clickhouse is building run-2 since" in waiting[0]
    assert any("both engines hold dbt build run-2; compared" in r.getMessage() for r in caplog.records)


def test_a_build_during_the_queries_makes_them_run_again():
    clock, calls = Clock(), []
    # Before the first try: run-1 on both. After it: postgres has started run-2. Then
    # run-2 is finished on both, and the second try is bracketed by it.
    log = Log(SAME, PG_BUILDING, PG_BUILDING, SAME_2, SAME_2)

    def work():
        calls.append(len(calls))
        return f"try {len(calls)}"

    result = guarded(log, work, clock)
    assert (result.value, result.build_id, result.attempts) == ("try 2", "run-2", 2)
    assert calls == [0, 1]


def test_a_query_that_fails_while_dbt_swaps_a_table_is_run_again():
    attempts = []

    def work():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("relation analytics.latest_price does not exist")
        return "answers"

    result = guarded(Log(SAME, PG_BUILDING, SAME_2, SAME_2), work, Clock())
    assert (result.value, result.build_id) == ("answers", "run-2")


def test_a_query_that_fails_on_a_settled_build_fails():
    def work():
        raise RuntimeError("syntax error")

    with pytest.raises(RuntimeError, match="syntax error"):
        guarded(Log(SAME), work, Clock())


def test_the_bound_ends_in_builds_unsettled_never_in_a_comparison():
    clock, calls = Clock(), []
    with pytest.raises(BuildsUnsettled) as raised:
        guarded(Log(CH_BUILDING), lambda: calls.append(1), clock, wait_s=60, poll_s=5)
    assert calls == []
    assert clock.now == pytest.approx(60)
    message = str(raised.value)
    assert "query q not compared" in message
    assert "within 60s" in message
    assert "clickhouse is building run-2 since" in message


def test_builds_that_keep_changing_during_the_queries_end_in_builds_unsettled():
    clock = Clock()
    states = iter([SAME, SAME_2] * 100)

    def work():
        clock.now += 20  # each try takes 20 s and a build lands during it
        return "answers"

    with pytest.raises(BuildsUnsettled, match="the dbt builds changed during query q"):
        on_same_build(lambda: next(states), work, what="query q", wait_s=60, clock=clock, sleep=clock.sleep)


def test_no_wait_looks_once():
    with pytest.raises(BuildsUnsettled):
        guarded(Log(CH_BUILDING), lambda: "answers", Clock(), wait_s=0)
    assert guarded(Log(SAME), lambda: "answers", Clock(), wait_s=0).build_id == "run-1"


# --------------------------------------------------------------------------- the engines' logs


class FakeEngine:
    def __init__(self, name: str, answers: dict[str, list[tuple]] | Exception) -> None:
        self.name = name
        self.answers = answers
        self.sql: list[str] = []

    def fetch(self, sql: str) -> list[tuple]:
        self.sql.append(sql)
        if isinstance(self.answers, Exception):
            raise self.answers
        return next(rows for pattern, rows in self.answers.items() if pattern in sql)


def test_read_build_reads_the_log_of_each_engine():
    naive = dt.datetime(2025, 5, 19, 12, 0)
    ch = FakeEngine(
        "clickhouse",
        {
            "exists table analytics.dbt_build_log": [(1,)],
            "from analytics.dbt_build_log": [
                ("a", "run-1", "success", naive, naive),
                ("a", "run-1", "started", naive, None),
            ],
        },
    )
    assert read_build(ch).latest.build_id == "run-1"
    pg = FakeEngine("postgres", {"to_regclass('analytics.dbt_build_log')": [(False,)]})
    assert read_build(pg) == EngineBuild("postgres", None, (), has_log=False)


def test_an_unreadable_log_names_the_engine_and_table():
    with pytest.raises(BuildLogUnreadable, match="dbt_build_log on clickhouse failed: connection refused"):
        read_build(FakeEngine("clickhouse", ConnectionError("connection refused")))


# --------------------------------------------------------------------------- dbt writes it


def test_dbt_records_every_build_in_the_table_the_guard_reads():
    project = yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())
    hooks = " ".join(project["on-run-start"] + project["on-run-end"])
    assert "build_log_start()" in hooks and "build_log_end(results)" in hooks
    assert "build_id" in project["vars"]
    assert project["flags"]["skip_nodes_if_on_run_start_fails"] is True
    macros = (ROOT / "dbt" / "macros" / "build_log.sql").read_text()
    assert re.search(rf"identifier='{bg.BUILD_LOG_TABLE}'", macros)
    for status in ("'started'", "'success'", "'error'"):
        assert status in macros


# --------------------------------------------------------------------------- in Airflow


def test_unsettled_builds_skip_the_task_and_a_real_disagreement_fails_it():
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from kafka_elt.dashboard.benchmark_tasks import airflow_outcome, check_marts_agree

    with pytest.raises(AirflowSkipException, match="query q not compared"), airflow_outcome():
        guarded(Log(CH_BUILDING), lambda: "answers", Clock(), wait_s=0)
    disagreeing = {
        "mart_disagreements": ["latest_price: postgres 3 rows, clickhouse 2 rows"],
        "build_id": "run-1",
    }
    with (
        pytest.raises(AirflowFailException, match=r"held dbt build run-1\):\n  latest_price"),
        airflow_outcome(),
    ):
        check_marts_agree(disagreeing)
    with airflow_outcome():
        check_marts_agree({"mart_disagreements": [], "build_id": "run-1"})
