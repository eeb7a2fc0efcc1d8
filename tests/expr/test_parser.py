"""Grammar acceptance, canonical rendering and refusal of everything else."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from nextbest.expr import (
    Between,
    BoolOp,
    Call,
    Column,
    Compare,
    Conditional,
    ExpressionError,
    InList,
    IsNull,
    Literal,
    Unary,
    parse,
)

ACCEPTED = [
    ("42", "42"),
    ("-3.5", "-3.5"),
    ("1e6", "1000000.0"),
    ("'it\\'s'", "'it\\'s'"),
    ('"double"', "'double'"),
    ("true and FALSE or None", "true and false or null"),
    ("True", "true"),
    ("null", "null"),
    ("date('2024-01-31')", "date('2024-01-31')"),
    ("decimal('12.30')", "decimal('12.30')"),
    ("`monthly income` * 12", "`monthly income` * 12"),
    ("客户年龄 >= 18", "客户年龄 >= 18"),
    ("a + b * c - d / e % f", "a + b * c - d / e % f"),
    ("(a + b) * c", "(a + b) * c"),
    ("a - (b - c)", "a - (b - c)"),
    ("-x", "-x"),
    ("-(1)", "-(1)"),
    ("- - 1", "-(-1)"),
    ("+x", "x"),
    ("a == 1 and b != 2 or not c < 3", "a == 1 and b != 2 or not c < 3"),
    ("(a or b) and c", "(a or b) and c"),
    ("(a and b) and c", "a and b and c"),
    ("x in [1, 2, null]", "x in [1, 2, null]"),
    ("x not in ('a', 'b')", "x not in ['a', 'b']"),
    ("x is null", "is_null(x)"),
    ("x IS NOT NULL", "not_null(x)"),
    ("between(age, 18, 65)", "between(age, 18, 65)"),
    ("IF(x > 1, 'big', 'small')", "if(x > 1, 'big', 'small')"),
    ("COALESCE(a, b, 0)", "coalesce(a, b, 0)"),
    ("substr(s, 1, 3)", "substr(s, 1, 3)"),
    ("substr(s, 2)", "substr(s, 2)"),
    ("round(x, 2)", "round(x, 2)"),
    ("to_date(birth, 'yyMMdd', 30)", "to_date(birth, 'yyMMdd', 30)"),
    ("days_between(open_date, date('2024-12-31')) > 365",
     "days_between(open_date, date('2024-12-31')) > 365"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "canonical"), ACCEPTED)
def test_accepted_expressions_render_canonically_and_round_trip(text: str, canonical: str) -> None:
    expr = parse(text)
    assert str(expr) == canonical
    assert parse(str(expr)) == expr


def test_tree_shapes() -> None:
    assert parse("1") == Literal(1, "int")
    assert parse("1") != parse("1.0") != parse("true")
    assert parse("date('2024-01-31')") == Literal(dt.date(2024, 1, 31), "date")
    assert parse("decimal('1.10')") == Literal(Decimal("1.10"), "decimal")
    assert parse("a < 1") == Compare("<", Column("a"), Literal(1, "int"))
    assert parse("a or b or c") == BoolOp("or", (Column("a"), Column("b"), Column("c")))
    assert parse("not a") == Unary("not", Column("a"))
    assert parse("x not in [1]") == InList(Column("x"), (Literal(1, "int"),), True)
    assert parse("between(x, 1, 2)") == Between(Column("x"), Literal(1, "int"), Literal(2, "int"))
    assert parse("not_null(x)") == IsNull(Column("x"), True)
    assert parse("if(c, 1, 2)") == Conditional(Column("c"), Literal(1, "int"), Literal(2, "int"))
    assert parse("lower(s)") == Call("lower", (Column("s"),))


def test_columns_and_positions() -> None:
    expr = parse("if(age >= 18, lower(`seg ment`), city)")
    assert expr.columns == frozenset({"age", "seg ment", "city"})
    assert parse("a +  b").right.pos == 5  # type: ignore[attr-defined]


REFUSED = [
    ("__import__('os')", "dunder", 0),
    ("a.b", "attribute access", 1),
    ("'x'.upper()", "attribute access", 3),
    ("x[0]", "subscript", 1),
    ("lambda: 1", "lambda", 0),
    ("open('f')", "unknown function 'open'", 0),
    ("eval('1')", "unknown function 'eval'", 0),
    ("(x := 1)", "walrus", 3),
    ("[i for i in x]", "comprehension", 0),
    ("lower(s for s in x)", "comprehension", 8),
    ("import os", "imports", 0),
    ("a = 1", "use '=='", 2),
    ("coalesce(x=1)", "keyword arguments", 10),
    ("coalesce(*x)", "starred", 9),
    ("coalesce(**x)", "starred", 9),
    ("f'{x}'", "f-strings", 0),
    ("b'x'", "string prefix", 0),
    ("a ** 2", "power", 2),
    ("a // 2", "floor division", 2),
    ("a & b", "bitwise", 2),
    ("{1: 2}", "dict and set", 0),
    ("a < b < c", "chained comparisons", 6),
    ("x if y else z", "use if(condition", 2),
    ("x is 1", "'is' is only allowed", 2),
    ("a <> b", "use '!='", 2),
    ("a b", "operator is missing", 2),
    ("abs(x)(1)", "allow-listed function names", 6),
    ("(a)(1)", "allow-listed function names", 3),
    ("1, 2", "tuples", 1),
    ("x in []", "empty", 5),
    ("a $ b", "unexpected character '$'", 2),
    ("'abc", "unterminated string", 0),
    ("0x1F", "malformed number", 0),
    ("99999999999999999999", "64-bit range", 0),
    ("1e999", "out of range", 0),
    ("", "empty expression", 0),
    ("a +", "unexpected end", 3),
    ("lower()", "exactly 1 argument", 0),
    ("substr(s)", "2 to 3 arguments", 0),
    ("if(a, b)", "exactly 3 arguments", 0),
    ("round(x, n)", "integer literal", 9),
    ("to_date(s, fmt)", "string literal", 11),
    ("to_date(s, 'yyyyQQ')", "unsupported character 'Q'", 11),
    ("date('2024-02-30')", "invalid date", 5),
    ("date(x)", "string literal", 5),
    ("decimal('abc')", "invalid decimal", 8),
    ("'\\x41'", "unsupported escape", 1),
    ("a; b", "';'", 1),
]


@pytest.mark.parametrize(("text", "fragment", "position"), REFUSED)
def test_refused_constructs_are_named_with_position(
    text: str, fragment: str, position: int
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert fragment in info.value.reason
    assert info.value.position == position
    assert f"at position {position}" in str(info.value)


def test_error_message_draws_a_caret() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("age = 18")
    assert str(info.value).splitlines()[1:] == ["    age = 18", "        ^"]


def test_nesting_and_length_are_bounded() -> None:
    with pytest.raises(ExpressionError, match="nested deeper"):
        parse("(" * 200 + "1" + ")" * 200)
    with pytest.raises(ExpressionError, match="nested deeper"):
        parse("-" * 300 + "x")
    with pytest.raises(ExpressionError, match="longer than"):
        parse("1 + " * 5000 + "1")
    with pytest.raises(ExpressionError, match="must be text"):
        parse(42)  # type: ignore[arg-type]
