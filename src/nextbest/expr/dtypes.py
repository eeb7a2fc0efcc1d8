"""The value types of the expression language and the rules that combine them.

The names are the canonical schema's dtypes (``nextbest.domain.schema.DType``) plus
``null`` for an untyped null literal. Both evaluators and ``validate`` share these rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "NUMERIC",
    "TEMPORAL",
    "ExprType",
    "TypeMismatch",
    "common_type",
    "comparable",
    "family",
    "numeric_result",
    "value_type",
]

ExprType = Literal["string", "int", "float", "decimal", "date", "timestamp", "bool", "null"]
NUMERIC: frozenset[str] = frozenset({"int", "float", "decimal"})
TEMPORAL: frozenset[str] = frozenset({"date", "timestamp"})


class TypeMismatch(Exception):
    """Internal: a type rule failed; callers add the position and sub-expression."""


def value_type(value: Any) -> ExprType:
    """The expression type of a Python value as it arrives in a record."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    raise TypeMismatch(f"unsupported value of Python type {type(value).__name__}")


def family(t: str) -> str:
    """Types in one family can be compared with each other."""
    if t in NUMERIC:
        return "number"
    if t in TEMPORAL:
        return "temporal"
    return t


def comparable(a: str, b: str) -> bool:
    return a == "null" or b == "null" or family(a) == family(b)


def numeric_result(op: str, a: str, b: str) -> ExprType:
    """Result type of ``a op b`` for arithmetic; raises TypeMismatch for non-numbers."""
    for t in (a, b):
        if t != "null" and t not in NUMERIC:
            raise TypeMismatch(
                f"arithmetic '{op}' needs numbers, got {t}"
                + (" (use concat() to join strings)" if t == "string" and op == "+" else "")
                + (" (use add_days() or days_between())" if t in TEMPORAL else "")
            )
    if op == "/":
        return "float"  # true division, as DuckDB and Python 3 do
    if "null" in (a, b):
        return "null"
    if "float" in (a, b):
        return "float"
    if "decimal" in (a, b):
        return "decimal"
    return "int"


def common_type(types: Sequence[str], what: str) -> ExprType:
    """The type several values share (numbers widen int -> decimal -> float)."""
    known = [t for t in types if t != "null"]
    for t in known:
        if not comparable(known[0], t):
            raise TypeMismatch(f"{what} mix {known[0]} and {t}")
    if not known:
        return "null"
    for wide in ("float", "decimal", "timestamp"):
        if wide in known:
            return wide
    return known[0]  # type: ignore[return-value]
