"""Per-record evaluation: SQL null semantics and the pinned edge cases of every function.

``PINNED`` is also run through Ibis on DuckDB in ``test_to_ibis.py``: one table, two
evaluators, same answers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from nextbest.expr import Condition, ExpressionError, evaluate, explain, parse

ROW: dict[str, Any] = {
    "i": 7, "j": -7, "z": 0, "n": None, "ns": None, "f": 2.5, "g": -2.5, "s": "Hello", "e": "",
    "ws": " \tab\n ", "d": dt.date(2024, 1, 31), "d2": dt.date(2020, 2, 29),
    "t": dt.datetime(2024, 3, 1, 13, 45), "m": Decimal("2.25"), "yes": True, "no": False,
    "cn": "张小三",
}  # fmt: skip

N = None
PINNED: list[tuple[str, Any]] = [
    # arithmetic and nulls
    ("i + n", N), ("-n", N), ("i / z", N), ("f / 0", N), ("i % z", N),
    ("i / 2", 3.5), ("j % 3", -1), ("i % -3", 1), ("f % 1", 0.5), ("-f", -2.5),
    ("m + 1", Decimal("3.25")), ("m * 2", Decimal("4.50")), ("m / 2", 1.125), ("m + 0.5", 2.75),
    # comparisons and Kleene logic
    ("i == n", N), ("n != n", N), ("i > 1 and n > 1", N), ("i < 1 and n > 1", False),
    ("i > 1 or n > 1", True), ("i < 1 or n > 1", N), ("not (n > 1)", N), ("not no", True),
    ("d < t", True), ("i == 7.0", True), ("m == 2.25", True), ("s > 'Apple'", True),
    ("i in [1, 7]", True), ("i in [1, null]", N), ("n in [1, 2]", N), ("i not in [1, null]", N),
    ("i not in [1, 2]", True), ("i in [7, null]", True),
    ("between(i, 1, 10)", True), ("between(i, n, 5)", False), ("between(i, n, 10)", N),
    ("is_null(n)", True), ("not_null(n)", False), ("n is null", True),
    ("if(n > 1, 'a', 'b')", "b"), ("if(yes, i, f)", 7), ("if(no, null, 'x')", "x"),
    # functions: null propagation and edge cases
    ("coalesce(n, n, 3)", 3), ("coalesce(n)", N), ("coalesce(n, f)", 2.5),
    ("lower(s)", "hello"), ("upper(cn)", "张小三"), ("lower(ns)", N),
    ("trim(ws)", "ab"), ("length(cn)", 3), ("length(e)", 0),
    ("substr(s, 2, 3)", "ell"), ("substr(s, 2)", "ello"), ("substr(s, 0, 2)", N),
    ("substr(s, 1, -1)", N), ("substr(s, 9, 2)", ""), ("substr(cn, 2, 1)", "小"),
    ("substr(s, n, 1)", N),
    ("concat(s, '-', i)", "Hello-7"), ("concat(s, n)", N), ("concat(yes, d)", "true2024-01-31"),
    ("starts_with(s, 'He')", True), ("ends_with(s, 'x')", False), ("contains(s, 'll')", True),
    ("contains(s, '')", True), ("contains(ns, 'a')", N),
    ("replace(s, 'l', 'L')", "HeLLo"), ("replace(s, '', 'x')", "Hello"),
    ("abs(j)", 7), ("abs(g)", 2.5),
    ("round(f)", 3), ("round(g)", -3), ("round(0.285, 2)", 0.28), ("round(m, 1)", Decimal("2.3")),
    ("round(i, 2)", 7), ("floor(g)", -3), ("ceil(g)", -2), ("floor(m)", 2),
    ("least(i, n, 3)", 3), ("greatest(n, n)", N), ("greatest(i, f)", 7.0),
    ("least(d, t)", dt.datetime(2024, 1, 31)),
    ("year(d)", 2024), ("month(t)", 3), ("day(d2)", 29),
    ("days_between(d2, d)", 1432), ("days_between(d, d2)", -1432), ("days_between(d, t)", 30),
    ("add_days(d, 1)", dt.date(2024, 2, 1)), ("add_days(d, -31)", dt.date(2023, 12, 31)),
    ("add_days(t, 1)", dt.datetime(2024, 3, 2, 13, 45)), ("add_days(d, n)", N),
    ("to_str(add_days(d, 1))", "2024-02-01"),
    ("to_int('  42 ')", 42), ("to_int('12.5')", N), ("to_int('1_000')", N), ("to_int(f)", 2),
    ("to_int(g)", -2), ("to_int(yes)", 1), ("to_int('99999999999999999999')", N),
    ("to_float('1e3')", 1000.0), ("to_float('inf')", N), ("to_float('abc')", N),
    ("to_float(m)", 2.25),
    ("to_str(f)", "2.5"), ("to_str(no)", "false"), ("to_str(d)", "2024-01-31"),
    ("to_str(m)", "2.25"), ("to_str(n)", N),
    ("to_date('20240131', 'yyyyMMdd')", dt.date(2024, 1, 31)),
    ("to_date('2024-02-30', 'yyyy-MM-dd')", N), ("to_date('2024/1/31', 'yyyy/MM/dd')", N),
    ("to_date('490101', 'yyMMdd')", dt.date(2049, 1, 1)),
    ("to_date('500101', 'yyMMdd')", dt.date(1950, 1, 1)),
    ("to_date('300101', 'yyMMdd', 30)", dt.date(1930, 1, 1)),
    ("to_date('31.01.2024', 'dd.MM.yyyy')", dt.date(2024, 1, 31)),
    ("to_date(ns, 'yyyyMMdd')", N),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PINNED)
def test_pinned_semantics(text: str, expected: Any) -> None:
    result = evaluate(parse(text), ROW)
    assert result == expected
    assert type(result) is type(expected) or isinstance(expected, float | Decimal)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("s + 1", "needs numbers, got string"),
        ("s > 1", "cannot compare string with int"),
        ("i and yes", "must be true/false, got int"),
        ("if(s, 1, 2)", "condition of if() must be true/false"),
        ("lower(i)", "argument 1 of lower() must be string, got int"),
        ("add_days(d, f)", "argument 2 of add_days() must be int"),
        ("missing > 1", "unknown column 'missing'"),
        ("-s", "unary '-' needs a number"),
    ],
)
def test_runtime_type_errors_name_the_sub_expression(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate(parse(text), ROW)
    assert fragment in info.value.reason


def test_explain_reports_columns_and_every_condition() -> None:
    rule = parse("age >= 18 and (segment in ['mass', 'affluent'] or vip) and not_null(city)")
    record = {"age": 30, "segment": "private", "vip": None, "city": "上海", "unused": 1}
    explanation = explain(rule, record)
    assert explanation.result is None
    assert explanation.columns == (("age", 30), ("city", "上海"), ("segment", "private"),
                                   ("vip", None))  # fmt: skip
    assert explanation.conditions == (
        Condition(str(rule), None, 0),
        Condition("age >= 18", True, 1),
        Condition("segment in ['mass', 'affluent'] or vip", None, 1),
        Condition("segment in ['mass', 'affluent']", False, 2),
        Condition("not_null(city)", True, 1),
    )
    assert explain(parse("amount * 2"), {"amount": 3}).conditions == ()
