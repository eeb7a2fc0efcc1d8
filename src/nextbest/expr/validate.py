"""Static type check of an expression against column types (canonical schema dtypes)."""

from __future__ import annotations

from collections.abc import Mapping

from nextbest.expr.dtypes import (
    ExprType,
    TypeMismatch,
    common_type,
    comparable,
    numeric_result,
)
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

__all__ = ["common_type", "unknown_column", "validate"]

_KNOWN = {"string", "int", "float", "decimal", "date", "timestamp", "bool"}


def unknown_column(name: str, available: list[str], pos: int) -> ExpressionError:
    listing = ", ".join(sorted(available)) or "(none)"
    return ExpressionError(f"unknown column {name!r}; available columns: {listing}", position=pos)


def _need_bool(t: str, node: Expr, what: str) -> None:
    if t not in ("bool", "null"):
        raise ExpressionError(f"{what} must be true/false, got {t} in `{node}`", position=node.pos)


def validate(expr: Expr, columns: Mapping[str, str]) -> ExprType:
    """Check the types of ``expr`` and return the type of its result.

    Parameters
    ----------
    expr:
        A parsed expression.
    columns:
        Column name -> dtype (``string``, ``int``, ``float``, ``decimal``, ``date``,
        ``timestamp``, ``bool``), as in ``nextbest.domain.schema``.

    Raises
    ------
    ExpressionError
        Naming the sub-expression and its position: unknown columns, arithmetic on
        text, comparisons across types, wrong argument types, non-boolean conditions.
    """
    for name, dtype in columns.items():
        if dtype not in _KNOWN:
            raise ExpressionError(f"column {name!r} has unsupported type {dtype!r}")
    return _infer(expr, columns)


def _infer(node: Expr, columns: Mapping[str, str]) -> ExprType:
    try:
        return _infer_node(node, columns)
    except TypeMismatch as exc:
        raise ExpressionError(f"{exc} in `{node}`", position=node.pos) from None


def _infer_node(node: Expr, columns: Mapping[str, str]) -> ExprType:
    if isinstance(node, Literal):
        return node.type
    if isinstance(node, Column):
        if node.name not in columns:
            raise unknown_column(node.name, list(columns), node.pos)
        return columns[node.name]  # type: ignore[return-value]
    sub = [_infer(c, columns) for c in node.children()]
    if isinstance(node, Unary):
        if node.op == "not":
            _need_bool(sub[0], node, "the operand of 'not'")
            return "bool"
        if sub[0] not in ("int", "float", "decimal", "null"):
            raise TypeMismatch(f"unary '-' needs a number, got {sub[0]}")
        return sub[0]
    if isinstance(node, Binary):
        return numeric_result(node.op, sub[0], sub[1])
    if isinstance(node, Compare):
        if not comparable(sub[0], sub[1]):
            raise TypeMismatch(f"cannot compare {sub[0]} with {sub[1]}")
        return "bool"
    if isinstance(node, BoolOp):
        for t, child in zip(sub, node.operands, strict=True):
            _need_bool(t, child, f"each operand of '{node.op}'")
        return "bool"
    if isinstance(node, InList):
        common_type(sub, "the value and the list items")
        return "bool"
    if isinstance(node, Between):
        common_type(sub, "the arguments of between()")
        return "bool"
    if isinstance(node, IsNull):
        return "bool"
    if isinstance(node, Conditional):
        _need_bool(sub[0], node.condition, "the condition of if()")
        return common_type(sub[1:], "the two branches of if()")
    if isinstance(node, Call):
        return FUNCTIONS[node.name].result(tuple(sub))
    raise ExpressionError(f"unsupported node {type(node).__name__}")
