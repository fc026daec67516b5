"""Compare one query's results from two engines, and fingerprint a result.

The drivers hand back different Python types for the same SQL value (psycopg: Decimal
for numeric, tz-aware datetimes for timestamptz; clickhouse-connect: float for Float64,
naive or tz-aware datetimes depending on the column type), so rows are normalised first
to plain values: numbers as int or float, timestamps as naive UTC ISO strings.

Decimals (the marts' money columns are numeric(38, 10) / Decimal(38, 10)) are compared
exactly. Floats are compared with a relative tolerance: the two engines add doubles in
different orders, so a sum can differ in its last bits while every figure a dashboard
shows is equal. The tolerance is far below any difference a reader could see.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

REL_TOL = 1e-9
ABS_TOL = 1e-9
# Significant digits of floats in the result hash: well above float noise, so equal
# answers hash equally run after run and engine to engine.
HASH_DIGITS = 12

Row = tuple[Any, ...]


def normalize_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value.normalize()
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list | tuple):
        return tuple(normalize_value(v) for v in value)
    return str(value)


def normalize_rows(rows: Iterable[Sequence[Any]]) -> list[Row]:
    return [tuple(normalize_value(v) for v in row) for row in rows]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def values_equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        if not isinstance(a, float) and not isinstance(b, float):
            return a == b  # int and Decimal: exact
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return rows_equal(a, b)
    return a == b


def rows_equal(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))


def _canonical(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float | Decimal):
        # Through float, so that an engine answering Float64 where the other answers a
        # decimal (avg() of decimals does on ClickHouse) still hashes the same.
        return format(float(value), f".{HASH_DIGITS}g")
    if isinstance(value, tuple):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return repr(value)


def canonical_row(row: Row) -> str:
    return "(" + ", ".join(_canonical(v) for v in row) + ")"


def result_hash(columns: Sequence[str], rows: Sequence[Row]) -> str:
    """SHA-256 of the normalised result, order included (the queries order their rows)."""
    digest = hashlib.sha256()
    digest.update(("|".join(columns) + "\n").encode())
    for row in rows:
        digest.update((canonical_row(row) + "\n").encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class QueryResult:
    """One engine's answer, normalised."""

    columns: tuple[str, ...]
    rows: list[Row]

    @classmethod
    def from_driver(cls, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> QueryResult:
        return cls(columns=tuple(columns), rows=normalize_rows(rows))

    @property
    def hash(self) -> str:
        return result_hash(self.columns, self.rows)


@dataclass(frozen=True)
class Comparison:
    agree: bool
    diff: str = ""


def _labelled(columns: Sequence[str], row: Row) -> str:
    return "(" + ", ".join(f"{c}={_canonical(v)}" for c, v in zip(columns, row, strict=False)) + ")"


def compare_results(
    left_name: str, left: QueryResult, right_name: str, right: QueryResult, *, max_rows: int = 5
) -> Comparison:
    """Same columns and the same rows in the same order (floats within tolerance)?

    On disagreement, ``diff`` says how: which columns, how many rows, which rows exist
    on one side only, and for the first differing positions which columns differ.
    """
    if left.columns != right.columns:
        return Comparison(
            agree=False,
            diff=f"columns differ: {left_name} {list(left.columns)} vs {right_name} {list(right.columns)}",
        )
    differing = [
        i for i, (a, b) in enumerate(zip(left.rows, right.rows, strict=False)) if not rows_equal(a, b)
    ]
    if not differing and len(left.rows) == len(right.rows):
        return Comparison(agree=True)

    cols = left.columns
    width = max(len(left_name), len(right_name))
    lines: list[str] = []
    if len(left.rows) != len(right.rows):
        lines.append(f"row count: {left_name} {len(left.rows)}, {right_name} {len(right.rows)}")

    left_keys = Counter(canonical_row(r) for r in left.rows)
    right_keys = Counter(canonical_row(r) for r in right.rows)
    only_left = [r for r in left.rows if canonical_row(r) not in right_keys]
    only_right = [r for r in right.rows if canonical_row(r) not in left_keys]
    for name, rows in ((left_name, only_left), (right_name, only_right)):
        if rows:
            lines.append(f"rows only in {name} ({min(len(rows), max_rows)} of {len(rows)} shown):")
            lines += [f"    {_labelled(cols, r)}" for r in rows[:max_rows]]
    if left_keys == right_keys:
        lines.append("same rows, different order: the query's ORDER BY is not deterministic")

    for i in differing[:max_rows]:
        a, b = left.rows[i], right.rows[i]
        cols_differ = [c for c, x, y in zip(cols, a, b, strict=False) if not values_equal(x, y)]
        lines.append(f"row {i + 1} differs in {', '.join(cols_differ) or 'length'}:")
        lines.append(f"    {left_name:<{width}} {_labelled(cols, a)}")
        lines.append(f"    {right_name:<{width}} {_labelled(cols, b)}")
    if len(differing) > max_rows:
        lines.append(f"... and {len(differing) - max_rows} more differing positions")
    return Comparison(agree=False, diff="\n".join(lines))
