"""nextbest's safe expression language.

One small, allow-listed grammar for derived columns in ingestion mappings, tags,
eligibility rules and audiences. Text is parsed by our own tokenizer and parser into a
typed tree; nothing is ever passed to ``eval``/``exec``/``compile``. See
``docs/expressions.md``.

>>> from nextbest.expr import parse, evaluate
>>> rule = parse("age >= 18 and segment in ['mass', 'affluent']")
>>> sorted(rule.columns)
['age', 'segment']
>>> evaluate(rule, {"age": 30, "segment": "mass"})
True
>>> evaluate(rule, {"age": None, "segment": "mass"}) is None
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nextbest.expr.dtypes import ExprType
from nextbest.expr.errors import ExpressionError
from nextbest.expr.evaluate import Condition, Explanation, compile_record, evaluate, explain
from nextbest.expr.functions import FUNCTIONS, Function
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
from nextbest.expr.parser import parse
from nextbest.expr.validate import validate

if TYPE_CHECKING:
    import ibis

__all__ = [
    "FUNCTIONS",
    "Between",
    "Binary",
    "BoolOp",
    "Call",
    "Column",
    "Compare",
    "Condition",
    "Conditional",
    "Explanation",
    "Expr",
    "ExprType",
    "ExpressionError",
    "Function",
    "InList",
    "IsNull",
    "Literal",
    "Unary",
    "compile_record",
    "evaluate",
    "explain",
    "parse",
    "to_ibis",
    "validate",
]


def to_ibis(expr: Expr, table: ibis.Table) -> ibis.Value:
    """Compile ``expr`` into an Ibis value over ``table`` (see ``nextbest.expr.ibis_compiler``).

    Imported lazily so that parsing and per-record evaluation do not load Ibis.
    """
    from nextbest.expr.ibis_compiler import to_ibis as compile_to_ibis

    return compile_to_ibis(expr, table)
