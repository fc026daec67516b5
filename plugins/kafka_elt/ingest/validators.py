"""Message validators, one per message kind named in the topic registry.

The raw layer stores the value exactly as received; validation only decides whether a
message goes to its raw table or to the dead-letter table. It must therefore accept
exactly what the dbt staging models can decode in both databases, and reject the rest
with a reason an operator can act on.

msgspec validates JSON against typed structs in C: about 2 us per candle envelope
against 12 us for ``json.loads`` alone, which is most of the per-message CPU budget.
It also rejects what ``json.loads`` would let through but neither database can store as
JSON: ``NaN``/``Infinity`` literals, and a UTF-8 BOM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import msgspec

# Latest instant both engines can hold (ClickHouse DateTime64 ends in 2299). A larger
# epoch is almost always milliseconds sent where seconds were expected.
MAX_EPOCH_SECONDS = 10_413_791_999  # 2299-12-31T23:59:59Z

_Text = Annotated[str, msgspec.Meta(min_length=1)]
# RFC 9110 token characters: what an HTTP method may be made of.
_Method = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
_EpochSeconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_EPOCH_SECONDS)]


class CandlePayload(msgspec.Struct):
    """Fields of a market candle (the Connect payload, or the whole bare message).

    ``code`` and ``timestamp`` form the business key and are required; the others may
    be missing or null but must have the right type when present. Extra fields pass.
    """

    code: _Text
    timestamp: _EpochSeconds
    type: str | None = None
    opening_price: float | None = None
    high_price: float | None = None
    low_price: float | None = None
    trade_price: float | None = None
    candle_acc_trade_volume: float | None = None
    candle_acc_trade_price: float | None = None
    stream_type: str | None = None


class _EnvelopeProbe(msgspec.Struct):
    # Raw: checked to be well-formed JSON but not materialised, so the probe is cheap.
    schema: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    payload: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class Footprint(msgspec.Struct):
    """One page visit as published by the web middleware."""

    link: _Text
    method: _Method
    footprint_time: str


_PROBE = msgspec.json.Decoder(_EnvelopeProbe)
_CANDLE = msgspec.json.Decoder(CandlePayload)
_FOOTPRINT = msgspec.json.Decoder(Footprint)

# ISO 8601 / RFC 3339 date-time with a mandatory offset: fractional seconds optional
# (1 to 9 digits), `Z` or `+HH:MM`. Deliberately narrower than datetime.fromisoformat,
# which also takes dates alone, week dates and offsets without a colon: the dbt models
# parse this column in SQL in two engines, and must not meet forms they cannot read.
FOOTPRINT_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
)


def parse_footprint_time(text: str) -> datetime:
    """Parse a footprint_time to an aware datetime, or raise ValueError with the reason.

    The original consumer crashed on times without fractional seconds; both forms are
    valid here, as are more than six fractional digits (truncated to microseconds).
    """
    match = FOOTPRINT_TIME.match(text)
    if not match:
        raise ValueError(
            f"footprint_time {text!r} is not ISO 8601 with an offset "
            "(YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM))"
        )
    base, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # "." and at most 6 digits: Python's resolution
    try:
        return datetime.fromisoformat(f"{base}{fraction}{'+00:00' if offset == 'Z' else offset}")
    except ValueError as exc:
        raise ValueError(f"footprint_time {text!r} is not a valid date and time: {exc}") from exc


def validate_candle(text: str) -> str | None:
    """None when the text is a valid candle (Connect envelope or bare payload), else why not."""
    try:
        probe = _PROBE.decode(text)
    except msgspec.ValidationError as exc:
        return f"candle: not a JSON object ({exc})"
    except msgspec.DecodeError as exc:
        return f"not valid JSON: {exc}"
    # Kafka Connect's JsonConverter (schemas.enable=true) writes exactly these two keys;
    # anything else is a bare payload, as with schemas.enable=false.
    if probe.schema is not msgspec.UNSET and probe.payload is not msgspec.UNSET:
        try:
            candle = _CANDLE.decode(probe.payload)
        except msgspec.ValidationError as exc:
            # Paths in the error are relative to the payload; make them absolute.
            problem = str(exc)
            problem = (
                problem.replace("`$", "`$.payload")
                if " - at `$" in problem
                else f"{problem} - at `$.payload`"
            )
            return f"candle (Connect envelope): {problem}"
        bad_prices = price_problem(candle)
        return f"candle (Connect envelope): {bad_prices} - at `$.payload`" if bad_prices else None
    try:
        candle = _CANDLE.decode(text)
    except msgspec.ValidationError as exc:
        return f"candle (bare payload): {exc}"
    bad_prices = price_problem(candle)
    return f"candle (bare payload): {bad_prices}" if bad_prices else None


_PRICES = ("opening_price", "high_price", "low_price", "trade_price")


def price_problem(candle: CandlePayload) -> str | None:
    """None when the candle's prices make sense, else why not.

    A candle carries all four prices or none (a bare key announcing the minute), and
    they must form a bar: low <= open, close <= high. The marts' OHLC test is an error,
    not a warning, because this check keeps every candle that could trip it out of the
    raw table (it goes to the dead letters with this reason instead).
    """
    prices = {name: getattr(candle, name) for name in _PRICES}
    missing = [name for name, value in prices.items() if value is None]
    if missing and len(missing) < len(_PRICES):
        return f"prices incomplete: {', '.join(missing)} missing while the others are set (all four or none)"
    if missing:
        return None
    open_, high, low, close = (prices[name] for name in _PRICES)
    if not low <= min(open_, close) <= max(open_, close) <= high:
        return (
            f"prices are not a bar: low_price {low} <= opening_price {open_}, trade_price {close} "
            f"<= high_price {high} does not hold"
        )
    return None


def validate_footprint(text: str) -> str | None:
    """None when the text is a valid page-visit event, else why not."""
    try:
        event = _FOOTPRINT.decode(text)
    except msgspec.ValidationError as exc:
        return f"footprint: {exc}"
    except msgspec.DecodeError as exc:
        return f"not valid JSON: {exc}"
    try:
        parse_footprint_time(event.footprint_time)
    except ValueError as exc:
        return f"footprint: {exc}"
    return None


# kind (as named in include/topics.yaml) -> validator
KINDS: dict[str, Callable[[str], str | None]] = {
    "market_candle": validate_candle,
    "footprint": validate_footprint,
}

# "\u0000" escapes that are not themselves escaped backslashes ("\\u0000" is fine).
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def poison_reason(value: bytes | None, validate: Callable[[str], str | None]) -> str | None:
    """None when the message value can be loaded, else why it goes to the dead letters."""
    if value is None:
        return "null value (tombstone): nothing to load"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8: {exc}"
    if "\x00" in text:
        return "contains a NUL character, which PostgreSQL text cannot store"
    if "\\u0000" in text and _ESCAPED_NUL.search(text):
        return "contains the JSON escape \\u0000, which PostgreSQL jsonb cannot store"
    return validate(text)
