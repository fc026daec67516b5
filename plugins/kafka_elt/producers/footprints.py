"""Page visits as the web middleware publishes them: many links, methods and time zones,
timestamps with and without fractional seconds (the old consumer crashed on the latter).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

_SECTIONS = ("posts", "users", "tags", "products", "docs", "api/v1/items")
_STATIC = ("/", "/about", "/login", "/logout", "/search", "/pricing", "/contact", "/feed.xml")
_REFS = ("home", "search", "newsletter", "twitter", "related")
# GET dominates, as on any site; HEAD/OPTIONS from crawlers and CORS preflights.
_METHODS = ("GET",) * 14 + ("POST",) * 3 + ("PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
# Offsets of the sites' users, including half-hour ones and UTC written as Z.
_OFFSETS = (
    0,
    0,
    9 * 60,
    9 * 60,
    -5 * 60,
    -8 * 60,
    60,
    2 * 60,
    5 * 60 + 30,
    -3 * 60 - 30,
    5 * 60 + 45,
    10 * 60,
)


def _link(rng: random.Random) -> str:
    if rng.random() < 0.25:
        path = rng.choice(_STATIC)
    else:
        path = f"/{rng.choice(_SECTIONS)}/{rng.randint(1, 5000)}"
    roll = rng.random()
    if roll < 0.3:
        path += f"?ref={rng.choice(_REFS)}"
    elif roll < 0.35:
        path += f"?page={rng.randint(2, 40)}&sort=new"
    return path


_TIMESPEC = {0: "seconds", 3: "milliseconds", 6: "microseconds"}


def _suffix(offset_minutes: int, fraction_digits: int) -> str:
    # UTC is written both ways, `Z` and `+00:00`, as real clients do.
    if offset_minutes == 0 and fraction_digits != 3:
        return "Z"
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def format_time(moment: datetime, offset_minutes: int, fraction_digits: int) -> str:
    """ISO 8601 with an offset (`Z` or `+HH:MM`), with 0, 3 or 6 fractional digits."""
    utc = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    local = utc + timedelta(minutes=offset_minutes)
    return local.isoformat(timespec=_TIMESPEC[fraction_digits]) + _suffix(offset_minutes, fraction_digits)


# Where the stream starts unless told, and the mean gap between two visits.
DEFAULT_START = datetime(2025, 5, 19, tzinfo=UTC)
MEAN_GAP_MS = 150.0


def footprints(
    start: datetime | None = None, seed: int | None = None, mean_gap_ms: float = MEAN_GAP_MS
) -> Iterator[dict[str, str]]:
    """An endless stream of page-visit events in time order."""
    rng = random.Random(seed)
    moment = (start or DEFAULT_START).astimezone(UTC).replace(tzinfo=None)
    offsets = [timedelta(minutes=m) for m in _OFFSETS]
    suffixes = {(m, d): _suffix(m, d) for m in _OFFSETS for d in _TIMESPEC}
    while True:
        moment += timedelta(milliseconds=rng.expovariate(1.0 / mean_gap_ms))
        i = rng.randrange(len(_OFFSETS))
        digits = rng.choice((0, 3, 3, 6))
        local = moment + offsets[i]
        yield {
            "link": _link(rng),
            "method": rng.choice(_METHODS),
            "footprint_time": local.isoformat(timespec=_TIMESPEC[digits]) + suffixes[(_OFFSETS[i], digits)],
        }


def footprint_json(event: dict[str, str]) -> str:
    # Links and methods are generated ASCII without quotes or backslashes.
    return f'{{"link": "{event["link"]}", "method": "{event["method"]}", "footprint_time": "{event["footprint_time"]}"}}'
