"""Compilation of an expression into an Ibis value over a table (bulk evaluation).

The result has the same meaning as ``evaluate`` record by record; where the backend's
SQL differs (division by zero, ``=`` against NULL, decimal widths, text-to-number
casts) the compiler spells the language's rule out explicitly.
"""

from __future__ import annotations

import operator
from typing import Any

import ibis
import ibis.expr.datatypes as idt

from nextbest.expr.dtypes import ExprType, TypeMismatch
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
from nextbest.expr.validate import unknown_column, validate

__all__ = ["column_types", "ibis_type_name", "to_ibis"]

_IBIS_TYPES: dict[str, idt.DataType] = {
    "string": idt.string, "int": idt.int64, "float": idt.float64,
    "date": idt.date, "timestamp": idt.timestamp, "bool": idt.boolean,
    "decimal": idt.Decimal(38, 9),
}  # fmt: skip
_COMPARE = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "%": operator.mod}


def ibis_type_name(dtype: idt.DataType) -> ExprType:
    """The language's name for an Ibis data type."""
    if dtype.is_string():
        return "string"
    if dtype.is_boolean():
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_floating():
        return "float"
    if dtype.is_decimal():
        return "decimal"
    if dtype.is_timestamp():
        return "timestamp"
    if dtype.is_date():
        return "date"
    if dtype.is_null():
        return "null"
    raise TypeMismatch(f"unsupported column type {dtype}")


def column_types(table: ibis.Table) -> dict[str, str]:
    """Column name -> language type, for the columns the language can use."""
    out: dict[str, str] = {}
    for name, dtype in table.schema().items():
        try:
            out[name] = ibis_type_name(dtype)
        except TypeMismatch:
            continue  # arrays, structs ...: not addressable from expressions
    return out


def _null(t: str) -> ibis.Value:
    return ibis.null() if t == "null" else ibis.null(_IBIS_TYPES[t])


def _tname(v: ibis.Value) -> str:
    return ibis_type_name(v.type())


def _scale(v: ibis.Value) -> int:
    t = v.type()
    if t.is_decimal():
        return int(t.scale if t.scale is not None else 9)
    return 0


def _as_decimal(v: ibis.Value, scale: int) -> ibis.Value:
    return v.cast(idt.Decimal(38, scale))


def _unify(values: list[ibis.Value], target: str) -> list[ibis.Value]:
    """Cast values to one type so the backend and Python agree on promotions."""
    if target == "float":
        return [v.cast("float64") if _tname(v) != "float" else v for v in values]
    if target == "decimal":
        scale = max(_scale(v) for v in values)
        return [_as_decimal(v, scale) for v in values]
    if target == "timestamp":
        return [v.cast("timestamp") if _tname(v) == "date" else v for v in values]
    return [_null(target) if _tname(v) == "null" else v for v in values]


def _family_target(values: list[ibis.Value]) -> str:
    names = [_tname(v) for v in values if _tname(v) != "null"]
    for wide in ("float", "decimal", "timestamp"):
        if wide in names:
            return wide
    return names[0] if names else "null"


class _Compiler:
    def __init__(self, table: ibis.Table):
        self.table = table

    def compile(self, node: Expr) -> ibis.Value:
        try:
            return self.node(node)
        except ExpressionError:
            raise
        except (TypeMismatch, ibis.common.exceptions.IbisError, TypeError, ValueError) as exc:
            raise ExpressionError(
                f"cannot compile ({exc}) in `{node}`", position=node.pos
            ) from None

    def node(self, node: Expr) -> ibis.Value:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Column):
            if node.name not in self.table.columns:
                raise unknown_column(node.name, list(self.table.columns), node.pos)
            return self.table[node.name]
        if isinstance(node, Unary):
            v = self.compile(node.operand)
            if _tname(v) == "null":
                return _null("bool" if node.op == "not" else "null")
            return ~v if node.op == "not" else -v
        if isinstance(node, Binary):
            return self.arithmetic(node)
        if isinstance(node, Compare):
            return self.compare(node.op, self.compile(node.left), self.compile(node.right))
        if isinstance(node, BoolOp):
            parts = [self.compile(o) for o in node.operands]
            parts = [_null("bool") if _tname(p) == "null" else p for p in parts]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if node.op == "and" else (out | p)
            return out
        if isinstance(node, InList):
            operand = self.compile(node.operand)
            items = [self.compile(i) for i in node.items]
            if _tname(operand) == "null":
                return _null("bool")
            target = _family_target([operand, *items])
            operand, *items = _unify([operand, *items], target)
            items = [i.cast(operand.type()) if _tname(i) == "null" else i for i in items]
            return operand.notin(items) if node.negated else operand.isin(items)
        if isinstance(node, Between):
            v, lo, hi = (self.compile(c) for c in node.children())
            return self.compare(">=", v, lo) & self.compare("<=", v, hi)
        if isinstance(node, IsNull):
            v = self.compile(node.operand)
            if _tname(v) == "null":
                return ibis.literal(not node.negated)
            return v.notnull() if node.negated else v.isnull()
        if isinstance(node, Conditional):
            cond = self.compile(node.condition)
            then, other = self.compile(node.then), self.compile(node.otherwise)
            if _tname(cond) == "null":
                return other
            target = _family_target([then, other])
            if target == "null":
                return ibis.null()
            then, other = _unify([then, other], target)
            return ibis.ifelse(cond, then, other)
        if isinstance(node, Call):
            return self.call(node)
        raise ExpressionError(f"unsupported node {type(node).__name__}", position=node.pos)

    def literal(self, node: Literal) -> ibis.Value:
        if node.type == "null":
            return ibis.null()
        if node.type == "decimal":
            exponent = node.value.as_tuple().exponent
            scale = max(0, -exponent) if isinstance(exponent, int) else 0
            return ibis.literal(node.value, type=idt.Decimal(38, scale))
        if node.type == "float":
            # Ibis writes 0.285 bare, which DuckDB reads as an exact DECIMAL; going through
            # text makes it the same binary double that Python evaluates with.
            return ibis.literal(repr(node.value)).cast("float64")
        # Explicit int64: ibis would otherwise pick int8 and let 100 + 100 overflow.
        return ibis.literal(node.value, type=_IBIS_TYPES[node.type])

    def compare(self, op: str, left: ibis.Value, right: ibis.Value) -> ibis.Value:
        # Ibis turns `x == NULL` into `x IS NULL`; the language wants null instead.
        if "null" in (_tname(left), _tname(right)):
            return _null("bool")
        left, right = _unify([left, right], _family_target([left, right]))
        return _COMPARE[op](left, right)

    def arithmetic(self, node: Binary) -> ibis.Value:
        left, right = self.compile(node.left), self.compile(node.right)
        from nextbest.expr.dtypes import numeric_result

        result = numeric_result(node.op, _tname(left), _tname(right))
        if "null" in (_tname(left), _tname(right)):
            return _null(result)
        if node.op == "/":
            left, right = left.cast("float64"), right.cast("float64")
            return ibis.ifelse(right == 0, _null("float"), left / right)
        if result == "decimal":
            scales = (_scale(left), _scale(right))
            out_scale = sum(scales) if node.op == "*" else max(scales)
            left, right = _as_decimal(left, scales[0]), _as_decimal(right, scales[1])
            value = _ARITH[node.op](left, right).cast(idt.Decimal(38, min(out_scale, 38)))
        else:
            left, right = _unify([left, right], result)
            value = _ARITH[node.op](left, right)
        if node.op == "%":
            return ibis.ifelse(right == 0, _null(result), value)
        return value

    def call(self, node: Call) -> ibis.Value:
        spec = FUNCTIONS[node.name]
        literal_positions = {i for i, _ in spec.literal_args}
        args: list[Any] = []
        types: list[str] = []
        for i, a in enumerate(node.args):
            if i in literal_positions:
                assert isinstance(a, Literal)
                args.append(a.value)
                types.append(a.type)
            else:
                v = self.compile(a)
                args.append(v)
                types.append(_tname(v))
        result = spec.result(tuple(types))
        if spec.nulls == "propagate":
            if "null" in types:
                return _null(result)
            return spec.ibis(*args)
        # Variadic functions that skip nulls (coalesce, least, greatest).
        present = [a for a, t in zip(args, types, strict=True) if t != "null"]
        if not present:
            return ibis.null()
        return spec.ibis(*_unify(present, result))


def to_ibis(expr: Expr, table: ibis.Table) -> ibis.Value:
    """Compile ``expr`` into an Ibis value over ``table``.

    Parameters
    ----------
    expr:
        A parsed expression.
    table:
        The table whose columns the expression reads.

    Returns
    -------
    ibis.Value
        A column expression (or a scalar if the expression reads no column), e.g. for
        ``table.mutate(derived=to_ibis(expr, table))`` or ``table.filter(...)``.

    Raises
    ------
    ExpressionError
        Unknown column (listing the available ones) or a type error, naming the
        sub-expression and its position.
    """
    for name in sorted(expr.columns):
        if name not in table.columns:
            pos = next(n.pos for n in _columns_named(expr, name))
            raise unknown_column(name, list(table.columns), pos)
    validate(expr, column_types(table))
    return _Compiler(table).compile(expr)


def _columns_named(expr: Expr, name: str) -> list[Column]:
    from nextbest.expr.nodes import walk

    return [n for n in walk(expr) if isinstance(n, Column) and n.name == name]
