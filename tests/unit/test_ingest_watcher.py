"""When the topic watcher fires: the decision logic of KafkaLagTrigger, on snapshots."""

from __future__ import annotations

from kafka_elt.ingest.watcher import LagDecision, LagSnapshot


def snap(committed: dict[int, int], high: dict[int, int]) -> LagSnapshot:
    return LagSnapshot(high=high, committed=committed)


def run(decision: LagDecision, timeline):
    """Feed (time, snapshot) pairs; return the times it fired at, recording each fire."""
    fired = []
    for now, s in timeline:
        if decision.observe(s, now):
            decision.fired(s, now)
            fired.append(now)
    return fired


def test_quiet_topic_never_fires():
    d = LagDecision(debounce=1.0, refire_after=60.0)
    assert run(d, [(t, snap({0: 5}, {0: 5})) for t in range(100)]) == []


def test_new_messages_fire_once_after_the_debounce():
    d = LagDecision(debounce=2.0, refire_after=60.0)
    waiting = snap({0: 5}, {0: 9})
    assert run(d, [(t, waiting) for t in range(10, 30)]) == [12]


def test_zero_debounce_fires_at_the_first_sight_of_lag():
    d = LagDecision(debounce=0.0, refire_after=60.0)
    assert run(d, [(0, snap({0: 1}, {0: 1})), (1, snap({0: 1}, {0: 2}))]) == [1]


def test_backlog_makes_no_storm_while_nothing_is_committed():
    d = LagDecision(debounce=1.0, refire_after=60.0)
    timeline = [(t, snap({0: 0, 1: 0}, {0: 100 + t, 1: 100 + t})) for t in range(0, 50)]
    assert run(d, timeline) == [1]


def test_message_arriving_during_a_run_fires_again_once_the_run_commits():
    d = LagDecision(debounce=1.0, refire_after=60.0)
    timeline = [
        (0, snap({0: 0}, {0: 10})),
        (1, snap({0: 0}, {0: 10})),  # fires: a run starts and plans offsets 0..10
        (2, snap({0: 0}, {0: 11})),  # one more message while it drains: no new event yet
        (3, snap({0: 0}, {0: 11})),
        (4, snap({0: 10}, {0: 11})),  # the run committed 10; offset 10 still waits: fire now
        (5, snap({0: 10}, {0: 11})),
        (6, snap({0: 11}, {0: 11})),  # loaded: quiet again
        (7, snap({0: 11}, {0: 12})),
        (8, snap({0: 11}, {0: 12})),  # new message after the debounce
    ]
    assert run(d, timeline) == [1, 4, 8]


def test_commits_of_messages_already_announced_fire_nothing():
    d = LagDecision(debounce=0.0, refire_after=60.0)
    timeline = [
        (0, snap({0: 0}, {0: 30})),  # fires: the queued run will drain up to 30 at least
        (1, snap({0: 10}, {0: 30})),  # it commits a first batch: nothing new to announce
        (2, snap({0: 20}, {0: 30})),
        (3, snap({0: 30}, {0: 30})),
    ]
    assert run(d, timeline) == [0]


def test_unchanged_lag_fires_again_after_refire_after():
    d = LagDecision(debounce=0.0, refire_after=30.0)
    stuck = snap({0: 3}, {0: 9})  # e.g. the run failed: nothing committed
    assert run(d, [(t, stuck) for t in range(0, 100, 5)]) == [0, 30, 60, 90]


def test_group_without_offsets_counts_from_the_low_watermark():
    # LagProbe stores the low watermark as the committed offset of a new group.
    s = snap({0: 0, 1: 7}, {0: 4, 1: 7})
    assert s.lag == 4
    assert s.as_extra() == {
        "lag": 4,
        "partitions": {"0": {"committed": 0, "high": 4}, "1": {"committed": 7, "high": 7}},
    }
