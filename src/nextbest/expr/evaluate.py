"""Per-record evaluation in pure Python with SQL null semantics, and explanations.

An expression is compiled once into nested closures (cached), so evaluating it for many
records costs one Python call per node and record.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from nextbest.expr.dtypes import TypeMismatch, comparable, numeric_result, value_type
from nextbest.expr.errors import ExpressionError
from nextbest.expr.functions import FUNCTIONS
from nextbest.expr.nodes import (
    Between,
    Binary,
    BoolOp,
    Call,
    Column,
    Compare,
    Conditional,
    Expr,
    InList,
    IsNull,
    Literal,
    Unary,
)

__all__ = ["Condition", "Explanation", "compile_record", "evaluate", "explain"]

Evaluator = Callable[[Mapping[str, Any]], Any]

_COMPARE_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def _fail(node: Expr, reason: str) -> ExpressionError:
    return ExpressionError(f"{reason} in `{node}`", position=node.pos)


def _promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Make two non-null values of one family directly comparable in Python."""
    numbers = int | Decimal | float
    if (
        isinstance(a, float) != isinstance(b, float)
        and isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return float(a), float(b)
    if (
        isinstance(a, dt.datetime) != isinstance(b, dt.datetime)
        and isinstance(a, dt.date)
        and isinstance(b, dt.date)
    ):
        return _as_timestamp(a), _as_timestamp(b)
    return a, b


def _as_timestamp(d: dt.date) -> dt.datetime:
    return d if isinstance(d, dt.datetime) else dt.datetime.combine(d, dt.time())


def compare_values(op: str, a: Any, b: Any) -> bool | None:
    """``a op b`` with SQL semantics: null if either side is null."""
    if a is None or b is None:
        return None
    ta, tb = value_type(a), value_type(b)
    if not comparable(ta, tb):
        raise TypeMismatch(f"cannot compare {ta} with {tb}")
    a, b = _promote(a, b)
    return _COMPARE_OPS[op](a, b)


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a op b``; null in, null out; division or modulo by zero gives null."""
    result = numeric_result(op, value_type(a), value_type(b))
    if a is None or b is None:
        return None
    if result == "float" or op == "/":
        a, b = float(a), float(b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None
    if op == "/":
        return a / b
    # '%' takes the sign of the dividend, as in SQL and C (Python's % does not).
    if isinstance(a, float):
        return math.fmod(a, b)
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(a) % Decimal(b)
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _truth(value: Any, node: Expr, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _fail(node, f"{what} must be true/false, got {value_type(value)}")


@lru_cache(maxsize=4096)
def compile_record(expr: Expr) -> Evaluator:
    """Compile ``expr`` into a function of one record (cached per expression)."""
    return _compile(expr)


def _compile(node: Expr) -> Evaluator:
    f = _compile_node(node)

    def guarded(record: Mapping[str, Any]) -> Any:
        try:
            return f(record)
        except TypeMismatch as exc:
            raise _fail(node, str(exc)) from None
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise _fail(node, f"cannot evaluate ({exc})") from None

    # The innermost failing node names itself; leaves cannot fail on types.
    return f if isinstance(node, Literal | Column) else guarded


def _compile_node(node: Expr) -> Evaluator:
    if isinstance(node, Literal):
        value = node.value
        return lambda r: value
    if isinstance(node, Column):
        name = node.name

        def column(r: Mapping[str, Any]) -> Any:
            try:
                return r[name]
            except KeyError:
                listing = ", ".join(sorted(map(str, r))) or "(none)"
                raise ExpressionError(
                    f"unknown column {name!r}; the record has: {listing}", position=node.pos
                ) from None

        return column
    if isinstance(node, Unary):
        inner = _compile(node.operand)
        if node.op == "not":

            def negation(r: Mapping[str, Any]) -> Any:
                v = _truth(inner(r), node, "the operand of 'not'")
                return None if v is None else not v

            return negation

        def minus(r: Mapping[str, Any]) -> Any:
            v = inner(r)
            if v is None:
                return None
            if value_type(v) not in ("int", "float", "decimal"):
                raise _fail(node, f"unary '-' needs a number, got {value_type(v)}")
            return -v

        return minus
    if isinstance(node, Binary):
        left, right, arith_op = _compile(node.left), _compile(node.right), node.op
        return lambda r: arithmetic(arith_op, left(r), right(r))
    if isinstance(node, Compare):
        left, right, cmp_op = _compile(node.left), _compile(node.right), node.op
        return lambda r: compare_values(cmp_op, left(r), right(r))
    if isinstance(node, BoolOp):
        parts = [(_compile(o), o) for o in node.operands]
        stop = node.op == "or"  # the value that decides: true for or, false for and

        def kleene(r: Mapping[str, Any]) -> Any:
            unknown = False
            for f, child in parts:
                v = _truth(f(r), child, f"each operand of '{node.op}'")
                if v is None:
                    unknown = True
                elif v is stop:
                    return stop
            return None if unknown else not stop

        return kleene
    if isinstance(node, InList):
        operand = _compile(node.operand)
        items = [_compile(i) for i in node.items]
        negated = node.negated

        def membership(r: Mapping[str, Any]) -> Any:
            v = operand(r)
            values = [f(r) for f in items]
            if v is None:
                return None
            unknown = False
            for item in values:
                if item is None:
                    unknown = True
                elif compare_values("==", v, item):
                    return not negated
            return None if unknown else negated

        return membership
    if isinstance(node, Between):
        x, lo, hi = _compile(node.operand), _compile(node.low), _compile(node.high)

        def between(r: Mapping[str, Any]) -> Any:
            v = x(r)
            a = compare_values(">=", v, lo(r))
            b = compare_values("<=", v, hi(r))
            if a is False or b is False:
                return False
            return None if a is None or b is None else True

        return between
    if isinstance(node, IsNull):
        inner = _compile(node.operand)
        negated = node.negated
        return lambda r: (inner(r) is None) != negated
    if isinstance(node, Conditional):
        cond, then, other = _compile(node.condition), _compile(node.then), _compile(node.otherwise)

        def conditional(r: Mapping[str, Any]) -> Any:
            c = _truth(cond(r), node.condition, "the condition of if()")
            return then(r) if c else other(r)  # null takes the else branch, as SQL CASE

        return conditional
    if isinstance(node, Call):
        return _compile_call(node)
    raise ExpressionError(f"unsupported node {type(node).__name__}", position=node.pos)


def _compile_call(node: Call) -> Evaluator:
    spec = FUNCTIONS[node.name]
    literal_positions = {i for i, _ in spec.literal_args}
    args: list[tuple[bool, Any]] = []
    for i, a in enumerate(node.args):
        if i in literal_positions:
            assert isinstance(a, Literal)
            args.append((True, a.value))
        else:
            args.append((False, _compile(a)))
    propagate = spec.nulls == "propagate"

    def call(r: Mapping[str, Any]) -> Any:
        values = [v if const else v(r) for const, v in args]
        spec.result(tuple(value_type(v) for v in values))
        if propagate and any(v is None for v in values):
            return None
        return spec.record(*values)

    return call


def evaluate(expr: Expr, record: Mapping[str, Any]) -> Any:
    """Evaluate ``expr`` for one record.

    Parameters
    ----------
    expr:
        A parsed expression.
    record:
        Column name -> Python value (None for null; int, float, Decimal, str, bool,
        datetime.date, datetime.datetime).

    Returns
    -------
    Any
        The value, ``None`` for null.

    Raises
    ------
    ExpressionError
        Unknown column, or values of the wrong type for an operator or function.
    """
    return compile_record(expr)(record)


@dataclass(frozen=True)
class Condition:
    """One boolean sub-expression and its value for the explained record."""

    text: str
    value: bool | None
    depth: int


@dataclass(frozen=True)
class Explanation:
    """Why an expression gave its result for one record, for display in a UI.

    Attributes
    ----------
    expression:
        Canonical text of the expression.
    result:
        Its value for the record.
    columns:
        (column, value) for every column the expression reads, sorted by name.
    conditions:
        Every boolean sub-expression in reading order with its truth value
        (``None`` = unknown because of nulls) and nesting depth.
    """

    expression: str
    result: Any
    columns: tuple[tuple[str, Any], ...]
    conditions: tuple[Condition, ...]


_PREDICATES = (Compare, BoolOp, InList, Between, IsNull)


def _is_condition(node: Expr) -> bool:
    if isinstance(node, _PREDICATES):
        return True
    if isinstance(node, Unary):
        return node.op == "not"
    return isinstance(node, Call) and node.name in ("starts_with", "ends_with", "contains")


def explain(expr: Expr, record: Mapping[str, Any]) -> Explanation:
    """Evaluate ``expr`` and report the columns read and every sub-condition's value."""
    result = evaluate(expr, record)
    conditions: list[Condition] = []

    def visit(node: Expr, depth: int) -> None:
        if _is_condition(node):
            conditions.append(Condition(str(node), evaluate(node, record), depth))
            depth += 1
        for child in node.children():
            visit(child, depth)

    visit(expr, 0)
    columns = tuple((name, record.get(name)) for name in sorted(expr.columns))
    return Explanation(str(expr), result, columns, tuple(conditions))
