"""The typed syntax tree of the expression language: small frozen dataclasses.

Every node remembers the column offset (``pos``) of the text it came from so that
errors can point at it; the offset takes no part in equality. ``str(node)`` renders
the canonical text, which parses back to an equal tree.
"""

from __future__ import annotations

import datetime as dt
import keyword
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from typing import Literal as TypingLiteral

__all__ = [
    "RESERVED_WORDS",
    "Between",
    "Binary",
    "BoolOp",
    "Call",
    "Column",
    "Compare",
    "Conditional",
    "Expr",
    "InList",
    "IsNull",
    "Literal",
    "LiteralType",
    "Unary",
    "walk",
]

LiteralType = TypingLiteral["int", "float", "decimal", "string", "bool", "date", "null"]

# Words with a meaning in the grammar: a column of that name must be backtick-quoted.
RESERVED_WORDS = frozenset(
    {"and", "or", "not", "in", "is", "true", "false", "null", "True", "False", "None"}
) | frozenset(keyword.kwlist)

# Binding strength, weakest first; used by the renderer to place parentheses.
_OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _ATOM = range(1, 9)
_BINARY_PRECEDENCE = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "%": _MUL}


class Expr(ABC):
    """Base of all nodes."""

    precedence: ClassVar[int] = _ATOM
    pos: int

    def children(self) -> tuple[Expr, ...]:
        return ()

    @property
    def columns(self) -> frozenset[str]:
        """Names of every column the expression reads."""
        return frozenset(n.name for n in walk(self) if isinstance(n, Column))

    @abstractmethod
    def render(self) -> str:
        """The canonical text of the node."""

    def __str__(self) -> str:
        return self.render()


def walk(expr: Expr) -> list[Expr]:
    """All nodes of ``expr`` in pre-order (the node itself first)."""
    out: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children()))
    return out


def _wrap(node: Expr, minimum: int) -> str:
    text = node.render()
    return f"({text})" if node.precedence < minimum else text


def quote_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f"'{escaped}'"


def is_plain_name(name: str) -> bool:
    """True if ``name`` can be written without backticks (Unicode letters are fine)."""
    return name.isidentifier() and name not in RESERVED_WORDS and not name.startswith("__")


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A constant; ``type`` keeps ``1``, ``1.0`` and ``true`` distinct."""

    value: Any
    type: LiteralType
    pos: int = field(default=0, compare=False)

    @property
    def precedence(self) -> int:  # type: ignore[override]
        # A negative number starts with '-', so it binds like unary minus.
        if self.type in ("int", "float") and self.value < 0:
            return _UNARY
        return _ATOM

    def render(self) -> str:
        if self.type == "null":
            return "null"
        if self.type == "bool":
            return "true" if self.value else "false"
        if self.type == "string":
            return quote_string(self.value)
        if self.type == "date":
            assert isinstance(self.value, dt.date)
            return f"date('{self.value.isoformat()}')"
        if self.type == "decimal":
            assert isinstance(self.value, Decimal)
            return f"decimal('{self.value}')"
        if self.type == "float":
            return repr(float(self.value))
        return str(int(self.value))


@dataclass(frozen=True, slots=True)
class Column(Expr):
    """A reference to a column (of the mapped record or table)."""

    name: str
    pos: int = field(default=0, compare=False)

    def render(self) -> str:
        return self.name if is_plain_name(self.name) else f"`{self.name}`"


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    """Arithmetic negation ``-x`` or logical ``not x``."""

    op: TypingLiteral["-", "not"]
    operand: Expr
    pos: int = field(default=0, compare=False)

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return _UNARY if self.op == "-" else _NOT

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def render(self) -> str:
        if self.op == "not":
            return f"not {_wrap(self.operand, _NOT)}"
        inner = self.operand
        # '-(1)' keeps the tree a Unary; '-1' would parse back as a negative literal.
        if isinstance(inner, Unary) or (
            isinstance(inner, Literal) and inner.type in ("int", "float", "decimal")
        ):
            return f"-({inner.render()})"
        return f"-{_wrap(inner, _UNARY)}"


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    """Arithmetic ``+ - * / %`` (left-associative)."""

    op: TypingLiteral["+", "-", "*", "/", "%"]
    left: Expr
    right: Expr
    pos: int = field(default=0, compare=False)

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return _BINARY_PRECEDENCE[self.op]

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def render(self) -> str:
        p = self.precedence
        return f"{_wrap(self.left, p)} {self.op} {_wrap(self.right, p + 1)}"


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    """A comparison ``== != < <= > >=`` (not chainable)."""

    op: TypingLiteral["==", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    pos: int = field(default=0, compare=False)
    precedence: ClassVar[int] = _CMP

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def render(self) -> str:
        return f"{_wrap(self.left, _ADD)} {self.op} {_wrap(self.right, _ADD)}"


@dataclass(frozen=True, slots=True)
class BoolOp(Expr):
    """``and`` / ``or`` over two or more operands (Kleene three-valued logic)."""

    op: TypingLiteral["and", "or"]
    operands: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)

    @classmethod
    def of(cls, op: TypingLiteral["and", "or"], operands: tuple[Expr, ...], pos: int = 0) -> BoolOp:
        """Build a flattened node: ``(a and b) and c`` is ``a and b and c``."""
        flat: list[Expr] = []
        for o in operands:
            flat.extend(o.operands if isinstance(o, BoolOp) and o.op == op else (o,))
        return cls(op, tuple(flat), pos)

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return _AND if self.op == "and" else _OR

    def children(self) -> tuple[Expr, ...]:
        return self.operands

    def render(self) -> str:
        p = self.precedence
        return f" {self.op} ".join(_wrap(o, p + 1) for o in self.operands)


@dataclass(frozen=True, slots=True)
class InList(Expr):
    """``x in [a, b]`` / ``x not in [a, b]`` with SQL null semantics."""

    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    pos: int = field(default=0, compare=False)
    precedence: ClassVar[int] = _CMP

    def children(self) -> tuple[Expr, ...]:
        return (self.operand, *self.items)

    def render(self) -> str:
        op = "not in" if self.negated else "in"
        items = ", ".join(i.render() for i in self.items)
        return f"{_wrap(self.operand, _ADD)} {op} [{items}]"


@dataclass(frozen=True, slots=True)
class Between(Expr):
    """``between(x, low, high)``: inclusive, ``x >= low and x <= high``."""

    operand: Expr
    low: Expr
    high: Expr
    pos: int = field(default=0, compare=False)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand, self.low, self.high)

    def render(self) -> str:
        return f"between({self.operand}, {self.low}, {self.high})"


@dataclass(frozen=True, slots=True)
class IsNull(Expr):
    """``is_null(x)`` or, negated, ``not_null(x)``; never null itself."""

    operand: Expr
    negated: bool = False
    pos: int = field(default=0, compare=False)

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def render(self) -> str:
        return f"{'not_null' if self.negated else 'is_null'}({self.operand})"


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """A call of an allow-listed function (see ``nextbest.expr.functions``)."""

    name: str
    args: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def render(self) -> str:
        return f"{self.name}({', '.join(a.render() for a in self.args)})"


@dataclass(frozen=True, slots=True)
class Conditional(Expr):
    """``if(condition, then, otherwise)``; a null condition takes ``otherwise``."""

    condition: Expr
    then: Expr
    otherwise: Expr
    pos: int = field(default=0, compare=False)

    def children(self) -> tuple[Expr, ...]:
        return (self.condition, self.then, self.otherwise)

    def render(self) -> str:
        return f"if({self.condition}, {self.then}, {self.otherwise})"
