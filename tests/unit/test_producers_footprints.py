"""producers.footprints: page visits over many links and methods, in many time zones."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest

from kafka_elt.ingest.validators import parse_footprint_time, validate_footprint
from kafka_elt.producers.footprints import footprints, format_time


def test_footprints_cover_links_methods_and_time_zones_and_all_parse():
    events = [e for _, e in zip(range(3000), footprints(seed=2), strict=False)]
    assert len({e["link"] for e in events}) > 1000
    assert {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"} <= {e["method"] for e in events}
    suffixes = {e["footprint_time"][-6:] for e in events if not e["footprint_time"].endswith("Z")}
    assert {"+09:00", "-05:00", "+05:30", "-03:30"} <= suffixes
    assert any(e["footprint_time"].endswith("Z") for e in events)
    assert any("." not in e["footprint_time"] for e in events)  # no fractional seconds
    for e in events:
        assert validate_footprint(json.dumps(e)) is None, e
    # One clock, written in many zones (times without a fraction are truncated to the second).
    times = [parse_footprint_time(e["footprint_time"]) for e in events]
    assert all(later - earlier > -timedelta(seconds=1) for earlier, later in itertools.pairwise(times))
    assert times[-1] - times[0] > timedelta(minutes=1)


@pytest.mark.parametrize(
    ("offset", "digits", "expected"),
    [
        (0, 0, "2025-05-19T04:45:30Z"),
        (0, 3, "2025-05-19T04:45:30.123+00:00"),
        (9 * 60, 3, "2025-05-19T13:45:30.123+09:00"),
        (-(3 * 60 + 30), 6, "2025-05-19T01:15:30.123456-03:30"),
    ],
)
def test_format_time(offset, digits, expected):
    from datetime import UTC, datetime

    assert format_time(datetime(2025, 5, 19, 4, 45, 30, 123456, UTC), offset, digits) == expected
