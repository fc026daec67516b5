"""Comparing two engines' answers: normalisation of driver types, tolerance, the diff."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kafka_elt.dashboard.compare import QueryResult, compare_results, normalize_value, result_hash

KST = dt.timezone(dt.timedelta(hours=9))


def result(columns, rows) -> QueryResult:
    return QueryResult.from_driver(columns, rows)


def test_driver_types_normalise_to_the_same_values():
    # psycopg: tz-aware timestamptz in the session zone, Decimal for numeric and sum();
    # clickhouse-connect: naive datetimes for DateTime64(_, 'UTC'), int for UInt64.
    pg = result(
        ["hour", "views", "price"], [(dt.datetime(2025, 1, 1, 9, tzinfo=KST), Decimal("42"), Decimal("1.50"))]
    )
    ch = result(["hour", "views", "price"], [(dt.datetime(2025, 1, 1, 0, 0), 42, Decimal("1.5000000000"))])
    assert compare_results("postgres", pg, "clickhouse", ch).agree
    assert pg.hash == ch.hash


def test_normalised_values():
    assert normalize_value(Decimal("3.000")) == 3
    assert normalize_value(2.0) == 2
    assert normalize_value(dt.date(2025, 5, 19)) == "2025-05-19"
    assert normalize_value(dt.datetime(2025, 5, 19, 1, 2, 3, 456000)) == "2025-05-19 01:02:03.456000"
    assert normalize_value(b"GET") == "GET"
    assert normalize_value(None) is None
    assert normalize_value(True) is True


def test_float_noise_agrees_but_a_real_difference_does_not():
    base = result(["code", "avg"], [("BTC-USD", 0.1 + 0.2)])
    noise = result(["code", "avg"], [("BTC-USD", 0.3)])
    real = result(["code", "avg"], [("BTC-USD", 0.3001)])
    assert compare_results("postgres", base, "clickhouse", noise).agree
    assert not compare_results("postgres", base, "clickhouse", real).agree


def test_decimals_compare_exactly():
    a = result(["v"], [(Decimal("1.0000000001"),)])
    b = result(["v"], [(Decimal("1.0000000002"),)])
    assert not compare_results("postgres", a, "clickhouse", b).agree


def test_float_against_decimal_of_the_same_value_agrees_and_hashes_the_same():
    # avg() of decimals is a decimal on PostgreSQL and a Float64 on ClickHouse.
    pg = result(["v"], [(Decimal("2.5"),)])
    ch = result(["v"], [(2.5,)])
    assert compare_results("postgres", pg, "clickhouse", ch).agree
    assert pg.hash == ch.hash


def test_null_differs_from_zero_and_empty_text():
    assert not compare_results("a", result(["v"], [(None,)]), "b", result(["v"], [(0,)])).agree
    assert not compare_results("a", result(["v"], [(None,)]), "b", result(["v"], [("",)])).agree


def test_column_names_must_match():
    c = compare_results("postgres", result(["a", "b"], [(1, 2)]), "clickhouse", result(["a", "c"], [(1, 2)]))
    assert not c.agree
    assert "columns differ" in c.diff and "'b'" in c.diff and "'c'" in c.diff


def test_diff_names_the_rows_and_columns_that_differ():
    pg = result(
        ["day", "rank", "link"], [("2025-05-19", 1, "/a"), ("2025-05-19", 2, "/b"), ("2025-05-19", 3, "/c")]
    )
    ch = result(
        ["day", "rank", "link"], [("2025-05-19", 1, "/a"), ("2025-05-19", 2, "/x"), ("2025-05-19", 3, "/c")]
    )
    c = compare_results("postgres", pg, "clickhouse", ch)
    assert not c.agree
    assert "rows only in postgres (1 of 1 shown):" in c.diff
    assert "link='/b'" in c.diff and "link='/x'" in c.diff
    assert "row 2 differs in link:" in c.diff
    assert "row 1 " not in c.diff and "row 3 " not in c.diff


def test_missing_rows_are_reported_with_counts():
    pg = result(["m", "n"], [("GET", 3), ("POST", 2), ("PUT", 1)])
    ch = result(["m", "n"], [("GET", 3), ("POST", 2)])
    c = compare_results("postgres", pg, "clickhouse", ch)
    assert not c.agree
    assert "row count: postgres 3, clickhouse 2" in c.diff
    assert "rows only in postgres (1 of 1 shown):" in c.diff and "m='PUT'" in c.diff


def test_same_rows_in_another_order_is_a_disagreement_that_blames_the_order_by():
    pg = result(["m", "n"], [("GET", 3), ("POST", 3)])
    ch = result(["m", "n"], [("POST", 3), ("GET", 3)])
    c = compare_results("postgres", pg, "clickhouse", ch)
    assert not c.agree
    assert "same rows, different order" in c.diff


def test_long_diffs_are_capped():
    pg = result(["i"], [(i,) for i in range(100)])
    ch = result(["i"], [(i + 1000,) for i in range(100)])
    c = compare_results("postgres", pg, "clickhouse", ch, max_rows=3)
    assert "(3 of 100 shown)" in c.diff
    assert "... and 97 more differing positions" in c.diff
    assert len(c.diff.splitlines()) < 30


def test_hash_depends_on_order_columns_and_values():
    rows = [("GET", 3), ("POST", 2)]
    assert result_hash(["m", "n"], rows) == result_hash(["m", "n"], list(rows))
    assert result_hash(["m", "n"], rows) != result_hash(["m", "n"], rows[::-1])
    assert result_hash(["m", "n"], rows) != result_hash(["method", "n"], rows)
    assert result_hash(["m", "n"], rows) != result_hash(["m", "n"], [("GET", 3), ("POST", 1)])
