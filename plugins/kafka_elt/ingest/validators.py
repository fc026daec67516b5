"""Message validators and decoders, one per message kind named in the topic registry.

The raw layer stores the value exactly as received and, beside it, the business fields
the validator decoded on the way (``settings.KIND_COLUMNS``), so that dbt reads typed
columns instead of parsing the JSON of every row on every read. Validation decides
whether a message goes to its raw table or to the dead-letter table. It must accept
exactly what the dbt staging models can decode in both databases (rows loaded before the
typed columns existed are still decoded from the JSON there), and reject the rest with a
reason an operator can act on.

msgspec validates JSON against typed structs in C: about 2 us per candle envelope
against 12 us for ``json.loads`` alone, which is most of the per-message CPU budget.
The structs hold only strings and numbers (no reference cycles), so they are not tracked
by the garbage collector (``gc=False``): one container fewer per message for it to scan.
It also rejects what ``json.loads`` would let through but neither database can store as
JSON: ``NaN``/``Infinity`` literals, and a UTF-8 BOM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec

from kafka_elt.settings import KIND_COLUMNS

# One message's decoded fields, in settings.KIND_COLUMNS order, and what a decoder returns:
# (None, the fields) for a message to load, (why not, ()) for a dead letter.
Row = tuple[Any, ...]
Decoded = tuple[str | None, Row]

# Latest instant both engines can hold (ClickHouse DateTime64 ends in 2299). A larger
# epoch is almost always milliseconds sent where seconds were expected.
MAX_EPOCH_SECONDS = 10_413_791_999  # 2299-12-31T23:59:59Z

_Text = Annotated[str, msgspec.Meta(min_length=1)]
# RFC 9110 token characters: what an HTTP method may be made of.
_Method = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
_EpochSeconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_EPOCH_SECONDS)]


class _CandleValues(msgspec.Struct, gc=False, kw_only=True):
    """A candle's optional fields: missing or null, but of the right type when present."""

    type: str | None = None
    opening_price: float | None = None
    high_price: float | None = None
    low_price: float | None = None
    trade_price: float | None = None
    candle_acc_trade_volume: float | None = None
    candle_acc_trade_price: float | None = None
    stream_type: str | None = None


class CandlePayload(_CandleValues, gc=False, kw_only=True):
    """Fields of a market candle (the Connect payload, or the whole bare message).

    ``code`` and ``timestamp`` form the business key and are required; the others may
    be missing or null but must have the right type when present. Extra fields pass.
    """

    code: _Text
    timestamp: _EpochSeconds


class _EnvelopeProbe(msgspec.Struct, gc=False):
    # Raw: checked to be well-formed JSON but not materialised, so the probe is cheap.
    schema: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    payload: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class Footprint(msgspec.Struct, gc=False):
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


def _not_iso_8601(text: str) -> str:
    return (
        f"footprint_time {text!r} is not ISO 8601 with an offset (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM))"
    )


def parse_footprint_time(text: str) -> datetime:
    """Parse a footprint_time to an aware datetime, or raise ValueError with the reason.

    The original consumer crashed on times without fractional seconds; both forms are
    valid here, as are more than six fractional digits (truncated to microseconds).
    """
    match = FOOTPRINT_TIME.match(text)
    if not match:
        raise ValueError(_not_iso_8601(text))
    base, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # "." and at most 6 digits: Python's resolution
    try:
        return datetime.fromisoformat(f"{base}{fraction}{'+00:00' if offset == 'Z' else offset}")
    except ValueError as exc:
        raise ValueError(f"footprint_time {text!r} is not a valid date and time: {exc}") from exc


_UNIX_EPOCH_LOCAL = datetime(1970, 1, 1)
# Offset text -> microseconds east of UTC; the pattern allows at most 2 * 24 * 60 of them.
_OFFSET_MICROS: dict[str, int] = {"Z": 0}


def _offset_micros(offset: str) -> int:
    micros = _OFFSET_MICROS.get(offset)
    if micros is None:
        sign = 1 if offset[0] == "+" else -1
        micros = _OFFSET_MICROS[offset] = sign * (int(offset[1:3]) * 60 + int(offset[4:6])) * 60_000_000
    return micros


def footprint_time_micros(text: str) -> int:
    """parse_footprint_time's instant as microseconds since the Unix epoch, or ValueError
    with the same reason. The decoder's path: local time minus offset in integers costs
    a third of subtracting aware datetimes (measured: 1.3 against 1.6 us with parsing)."""
    match = FOOTPRINT_TIME.match(text)
    if not match:
        raise ValueError(_not_iso_8601(text))
    base, fraction, offset = match.groups()
    try:
        local = datetime.fromisoformat(base + fraction[:7] if fraction else base)
    except ValueError as exc:
        raise ValueError(f"footprint_time {text!r} is not a valid date and time: {exc}") from exc
    elapsed = local - _UNIX_EPOCH_LOCAL
    return (
        elapsed.days * 86_400_000_000
        + elapsed.seconds * 1_000_000
        + elapsed.microseconds
        - _offset_micros(offset)
    )


def decode_candle(text: str) -> Decoded:
    """A candle (Connect envelope or bare payload) and its fields, or why it is refused.

    The fields are settings.KIND_COLUMNS["market_candle"]: whether it came in a Connect
    envelope, then the payload's fields as msgspec decoded them (floats exactly as parsed).
    """
    try:
        probe = _PROBE.decode(text)
    except msgspec.ValidationError as exc:
        return f"candle: not a JSON object ({exc})", ()
    except msgspec.DecodeError as exc:
        return f"not valid JSON: {exc}", ()
    # Kafka Connect's JsonConverter (schemas.enable=true) writes exactly these two keys;
    # anything else is a bare payload, as with schemas.enable=false.
    record: msgspec.Raw | str = text
    is_envelope = False
    if probe.schema is not msgspec.UNSET and probe.payload is not msgspec.UNSET:
        record, is_envelope = probe.payload, True
    try:
        candle = _CANDLE.decode(record)
    except msgspec.ValidationError as exc:
        if not is_envelope:
            return f"candle (bare payload): {exc}", ()
        # Paths in the error are relative to the payload; make them absolute.
        problem = str(exc)
        problem = (
            problem.replace("`$", "`$.payload") if " - at `$" in problem else f"{problem} - at `$.payload`"
        )
        return f"candle (Connect envelope): {problem}", ()
    bad_prices = price_problem(candle)
    if bad_prices:
        if is_envelope:
            return f"candle (Connect envelope): {bad_prices} - at `$.payload`", ()
        return f"candle (bare payload): {bad_prices}", ()
    return None, _candle_fields(candle, is_envelope)


def _candle_fields(candle: CandlePayload | _CandleMessage, is_envelope: bool) -> tuple:
    """A loadable candle's decoded fields, in settings.KIND_COLUMNS["market_candle"]'s order."""
    return (
        is_envelope,
        candle.type,
        candle.code,
        candle.timestamp,
        candle.opening_price,
        candle.high_price,
        candle.low_price,
        candle.trade_price,
        candle.candle_acc_trade_volume,
        candle.candle_acc_trade_price,
        candle.stream_type,
    )


def validate_candle(text: str) -> str | None:
    """None when the text is a valid candle (Connect envelope or bare payload), else why not."""
    return decode_candle(text)[0]


_PRICES = ("opening_price", "high_price", "low_price", "trade_price")


def price_problem(candle: _CandleValues) -> str | None:
    """None when the candle's prices make sense, else why not.

    A candle carries all four prices or none (a bare key announcing the minute), and
    they must form a bar: low <= open, close <= high. The marts' OHLC test is an error,
    not a warning, because this check keeps every candle that could trip it out of the
    raw table (it goes to the dead letters with this reason instead). Runs for every
    candle, hence plain comparisons (a dict of the four cost 2 us a message).
    """
    open_, high, low, close = candle.opening_price, candle.high_price, candle.low_price, candle.trade_price
    if open_ is None or high is None or low is None or close is None:
        missing = [
            name for name, value in zip(_PRICES, (open_, high, low, close), strict=True) if value is None
        ]
        if len(missing) == len(_PRICES):
            return None
        return f"prices incomplete: {', '.join(missing)} missing while the others are set (all four or none)"
    if low <= open_ <= high and low <= close <= high:
        return None
    return (
        f"prices are not a bar: low_price {low} <= opening_price {open_}, trade_price {close} "
        f"<= high_price {high} does not hold"
    )


def decode_footprint(text: str) -> Decoded:
    """A page-visit event and its fields (settings.KIND_COLUMNS["footprint"]), or why it is
    refused. footprint_at is footprint_time's instant as integer microseconds since the
    Unix epoch (footprint_time_micros), the unit both databases' encoders take."""
    try:
        event = _FOOTPRINT.decode(text)
    except msgspec.ValidationError as exc:
        return f"footprint: {exc}", ()
    except msgspec.DecodeError as exc:
        return f"not valid JSON: {exc}", ()
    try:
        footprint_at = footprint_time_micros(event.footprint_time)
    except ValueError as exc:
        return f"footprint: {exc}", ()
    return None, (event.link, event.method, event.footprint_time, footprint_at)


def validate_footprint(text: str) -> str | None:
    """None when the text is a valid page-visit event, else why not."""
    return decode_footprint(text)[0]


@dataclass(frozen=True)
class Kind:
    """A message kind of the topic registry: its decoder, and its validator when called.

    ``decode_message`` is what the drain calls per message: the value's bytes to
    ``Decoded``, always the same answer as ``decode_value(value, decode)``, but through a
    single-pass fast path for the common case (``decode_candle_message``)."""

    name: str
    decode: Callable[[str], Decoded]
    decode_message: Callable[[bytes | None], Decoded]

    def __call__(self, text: str) -> str | None:
        return self.decode(text)[0]

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the decoded fields, in the order of the decoder's tuples."""
        return tuple(name for name, _, _ in KIND_COLUMNS[self.name])


# -- the drain's per-message path ----------------------------------------------------------
# decode_value decodes the bytes to text and scans it for NUL and the \u0000 escape, then
# the candle decoder parses the JSON twice (the envelope probe, then the payload) and
# checks the prices in another call: measured 2.3 us a candle message, the largest single
# item of the drain's CPU. The fast path below parses the bytes once into a struct that
# holds both shapes (1.8 us), and answers only when the full way could not answer
# differently: ASCII bytes (so valid UTF-8, no BOM) without a \u0000 escape that parse
# (so hold no raw NUL: msgspec refuses control characters) into a loadable message.
# Anything else (a poison message, say) goes the full way, which finds the reason;
# tests/unit/test_ingest_validators.py checks that both agree, message by message.


class _CandleMessage(_CandleValues, gc=False, kw_only=True):
    """A Connect envelope (``schema`` and ``payload``) or a bare payload, in one parse."""

    schema: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    payload: CandlePayload | msgspec.UnsetType = msgspec.UNSET
    code: _Text | msgspec.UnsetType = msgspec.UNSET
    timestamp: _EpochSeconds | msgspec.UnsetType = msgspec.UNSET


_CANDLE_MESSAGE = msgspec.json.Decoder(_CandleMessage)
_UNSET = msgspec.UNSET


def _plain(value: bytes | None) -> bool:
    """Bytes the fast path may parse: what decode_value would pass on unchanged, given
    that msgspec refuses a raw NUL anywhere (a control character) but does not check the
    UTF-8 of what it skips. The escape is looked for only after a backslash: memchr is
    half the cost of a substring search, and most messages have no backslash at all."""
    return value is not None and value.isascii() and (b"\\" not in value or b"\\u0000" not in value)


def decode_candle_message(value: bytes | None) -> Decoded:
    """decode_value(value, decode_candle), in one parse when the candle is loadable."""
    if _plain(value):
        try:
            message = _CANDLE_MESSAGE.decode(value)  # type: ignore[arg-type]  # not None: _plain
        except msgspec.MsgspecError:
            pass  # the full way says why
        else:
            candle: CandlePayload | _CandleMessage | None = None
            if message.schema is not _UNSET and message.payload is not _UNSET:
                candle, is_envelope = message.payload, True
            elif message.schema is not _UNSET or message.payload is _UNSET:
                # Bare (a lone "payload" key is an extra field of a bare payload: the full way).
                if message.code is not _UNSET and message.timestamp is not _UNSET:
                    candle, is_envelope = message, False
            # price_problem's None: all four prices forming a bar, or none of them
            if candle is not None and price_problem(candle) is None:
                return None, _candle_fields(candle, is_envelope)
    return decode_value(value, decode_candle)


def decode_footprint_message(value: bytes | None) -> Decoded:
    """decode_value(value, decode_footprint), without the text round trip when loadable."""
    if _plain(value):
        try:
            event = _FOOTPRINT.decode(value)  # type: ignore[arg-type]  # not None: _plain
            footprint_at = footprint_time_micros(event.footprint_time)
        except (msgspec.MsgspecError, ValueError):
            pass  # the full way says why
        else:
            return None, (event.link, event.method, event.footprint_time, footprint_at)
    return decode_value(value, decode_footprint)


# kind (as named in include/topics.yaml) -> its decoder; calling it validates.
KINDS: dict[str, Kind] = {
    "market_candle": Kind("market_candle", decode_candle, decode_candle_message),
    "footprint": Kind("footprint", decode_footprint, decode_footprint_message),
}

# "\u0000" escapes that are not themselves escaped backslashes ("\\u0000" is fine).
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_TOMBSTONE: Decoded = ("null value (tombstone): nothing to load", ())
_NUL: Decoded = ("contains a NUL character, which PostgreSQL text cannot store", ())
_NUL_ESCAPE: Decoded = ("contains the JSON escape \\u0000, which PostgreSQL jsonb cannot store", ())


def decode_value(value: bytes | None, decode: Callable[[str], Decoded]) -> Decoded:
    """(None, the decoded fields) when the message value can be loaded, else (why not, ())."""
    if value is None:
        return _TOMBSTONE
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8: {exc}", ()
    if "\x00" in text:
        return _NUL
    if "\\u0000" in text and _ESCAPED_NUL.search(text):
        return _NUL_ESCAPE
    return decode(text)


def poison_reason(value: bytes | None, validate: Callable[[str], str | None]) -> str | None:
    """None when the message value can be loaded, else why it goes to the dead letters."""
    return decode_value(value, lambda text: (validate(text), ()))[0]
