"""Parser: text -> typed syntax tree, by recursive descent over precedence levels.

Precedence, weakest first: ``or``; ``and``; ``not``; comparisons, ``in``, ``is null``;
``+ -``; ``* / %``; unary ``-``; literals, names, calls and parentheses. Anything outside
the grammar is refused with an ``ExpressionError`` that names the construct and its
position, so user text never reaches Python's ``eval``/``exec``/``compile``.
"""

from __future__ import annotations

import datetime as dt
import keyword
import math
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from nextbest.expr.errors import ExpressionError
from nextbest.expr.functions import FUNCTIONS, SPECIAL_FORMS
from nextbest.expr.lexer import Token, tokenize
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

__all__ = ["parse"]

MAX_LENGTH = 10_000
MAX_DEPTH = 100
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_CONSTANTS = {
    "true": Literal(True, "bool"), "True": Literal(True, "bool"), "TRUE": Literal(True, "bool"),
    "false": Literal(False, "bool"), "False": Literal(False, "bool"),
    "FALSE": Literal(False, "bool"),
    "null": Literal(None, "null"), "None": Literal(None, "null"), "NULL": Literal(None, "null"),
}  # fmt: skip

# Tokens that are never part of the grammar, with what to say about them.
_FORBIDDEN_OPS = {
    ".": "attribute access ('.') is not allowed",
    ":=": "assignment (':=', walrus) is not allowed",
    "=": "'=' is not allowed: use '==' to compare",
    "**": "the power operator '**' (and ** unpacking) is not allowed",
    "//": "floor division '//' is not allowed: use floor(a / b)",
    "<>": "'<>' is not allowed: use '!=' for not-equal",
    "!": "'!' is not allowed: use 'not'",
    "&&": "'&&' is not allowed: use 'and'",
    "||": "'||' is not allowed: use 'or', or concat() to join strings",
    "&": "bitwise operator '&' is not allowed: use 'and'",
    "|": "bitwise operator '|' is not allowed: use 'or'",
    "^": "bitwise operator '^' is not allowed",
    "~": "bitwise operator '~' is not allowed: use 'not'",
    "<<": "shift operator '<<' is not allowed",
    ">>": "shift operator '>>' is not allowed",
    "->": "'->' is not allowed",
    "@": "operator '@' (decorators, matrix product) is not allowed",
    "{": "dict and set literals ('{') are not allowed",
    "}": "dict and set literals ('}') are not allowed",
    ":": "slices and ':' are not allowed",
    ";": "';' is not allowed: an expression is a single expression",
}
_FORBIDDEN_WORDS = {
    "lambda": "lambda expressions are not allowed",
    "for": "comprehensions ('for') are not allowed",
    "import": "imports are not allowed",
    "from": "imports ('from') are not allowed",
    "yield": "'yield' is not allowed",
    "await": "'await' is not allowed",
    "else": "Python conditional expressions are not allowed: use if(condition, then, else)",
    "if": "Python conditional expressions are not allowed: use if(condition, then, else)",
    "is": "'is' is only allowed as 'x is null' or 'x is not null'",
}


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # ---- helpers -----------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def fail(self, reason: str, pos: int) -> NoReturn:
        raise ExpressionError(reason, position=pos, text=self.text)

    def unexpected(self, tok: Token, expected: str) -> NoReturn:
        if tok.kind == "op" and tok.text in _FORBIDDEN_OPS:
            self.fail(_FORBIDDEN_OPS[tok.text], tok.pos)
        if tok.kind == "name" and tok.text in _FORBIDDEN_WORDS:
            self.fail(_FORBIDDEN_WORDS[tok.text], tok.pos)
        if tok.kind == "end":
            self.fail(f"unexpected end of expression, expected {expected}", tok.pos)
        if tok.is_op("["):
            self.fail("subscripts ('[') are not allowed (lists only after 'in')", tok.pos)
        if tok.is_op("("):
            self.fail("only allow-listed function names can be called", tok.pos)
        if tok.is_op(","):
            self.fail("tuples (',') are not allowed outside function arguments", tok.pos)
        self.fail(f"unexpected {tok.text!r}, expected {expected}", tok.pos)

    def expect_op(self, op: str, expected: str) -> Token:
        if not self.tok.is_op(op):
            self.unexpected(self.tok, expected)
        return self.advance()

    def bracket_has_for(self) -> bool:
        """True if the bracket opening at the current token contains a 'for'."""
        depth = 0
        for tok in self.tokens[self.i :]:
            if tok.is_op("[", "(", "{"):
                depth += 1
            elif tok.is_op("]", ")", "}"):
                depth -= 1
                if depth == 0:
                    return False
            elif tok.is_word("for") and depth == 1:
                return True
        return False

    # ---- grammar -----------------------------------------------------------------

    def parse(self) -> Expr:
        if not self.text.strip():
            self.fail("empty expression", 0)
        expr = self.expression()
        if self.tok.kind != "end":
            self.unexpected(self.tok, "the end of the expression (an operator is missing?)")
        return expr

    def expression(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expression nested deeper than {MAX_DEPTH} levels", self.tok.pos)
        try:
            return self.disjunction()
        finally:
            self.depth -= 1

    def disjunction(self) -> Expr:
        first = self.conjunction()
        operands = [first]
        while self.tok.is_word("or", "OR"):
            self.advance()
            operands.append(self.conjunction())
        return first if len(operands) == 1 else BoolOp.of("or", tuple(operands), first.pos)

    def conjunction(self) -> Expr:
        first = self.negation()
        operands = [first]
        while self.tok.is_word("and", "AND"):
            self.advance()
            operands.append(self.negation())
        return first if len(operands) == 1 else BoolOp.of("and", tuple(operands), first.pos)

    def negation(self) -> Expr:
        if self.tok.is_word("not", "NOT"):
            start = self.advance()
            return Unary("not", self.negation(), start.pos)
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.additive()
        node: Expr
        tok = self.tok
        if tok.kind == "op" and tok.text in _COMPARISONS:
            self.advance()
            node = Compare(tok.text, left, self.additive(), tok.pos)  # type: ignore[arg-type]
        elif tok.is_word("in", "IN"):
            self.advance()
            node = InList(left, self.in_list(), False, tok.pos)
        elif tok.is_word("not", "NOT") and self.peek().is_word("in", "IN"):
            self.advance()
            self.advance()
            node = InList(left, self.in_list(), True, tok.pos)
        elif tok.is_word("is", "IS"):
            self.advance()
            negated = False
            if self.tok.is_word("not", "NOT"):
                self.advance()
                negated = True
            if not self.tok.is_word("null", "NULL", "None"):
                self.fail(_FORBIDDEN_WORDS["is"], tok.pos)
            self.advance()
            node = IsNull(left, negated, tok.pos)
        elif tok.is_op("="):
            before = self.tokens[self.i - 2] if self.i >= 2 else None
            if isinstance(left, Column) and before is not None and before.is_op("(", ","):
                self.fail(
                    "keyword arguments (name=value) are not allowed; to compare, use '=='",
                    tok.pos,
                )
            self.fail("'=' is not allowed: use '==' to compare", tok.pos)
        else:
            return left
        nxt = self.tok
        if (nxt.kind == "op" and nxt.text in _COMPARISONS) or nxt.is_word("in", "is"):
            self.fail(
                "chained comparisons are not allowed: combine them with 'and' or use between()",
                nxt.pos,
            )
        return node

    def in_list(self) -> tuple[Expr, ...]:
        opening = self.tok
        if not opening.is_op("[", "("):
            self.unexpected(opening, "a list such as [1, 2, 3] after 'in'")
        closing = "]" if opening.text == "[" else ")"
        self.advance()
        items: list[Expr] = []
        while not self.tok.is_op(closing):
            items.append(self.expression())
            if self.tok.is_word("for"):
                self.fail(_FORBIDDEN_WORDS["for"], self.tok.pos)
            if not self.tok.is_op(","):
                break
            self.advance()
        self.expect_op(closing, f"',' or '{closing}' in the list")
        if not items:
            self.fail("the list after 'in' is empty", opening.pos)
        return tuple(items)

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.tok.is_op("+", "-"):
            op = self.advance()
            left = Binary(op.text, left, self.multiplicative(), op.pos)  # type: ignore[arg-type]
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.tok.is_op("*", "/", "%"):
            op = self.advance()
            left = Binary(op.text, left, self.unary(), op.pos)  # type: ignore[arg-type]
        return left

    def unary(self) -> Expr:
        tok = self.tok
        if tok.is_op("-"):
            self.advance()
            if self.tok.kind == "number":
                return self.postfix(self.number(self.advance(), negative=True, pos=tok.pos))
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.fail(f"expression nested deeper than {MAX_DEPTH} levels", tok.pos)
            try:
                return Unary("-", self.unary(), tok.pos)
            finally:
                self.depth -= 1
        if tok.is_op("+"):
            self.advance()
            return self.unary()
        if tok.is_op("*"):
            self.fail("starred arguments and unpacking ('*') are not allowed", tok.pos)
        return self.postfix(self.primary())

    def postfix(self, expr: Expr) -> Expr:
        tok = self.tok
        if tok.is_op("."):
            self.fail("attribute access ('.') is not allowed", tok.pos)
        if tok.is_op("["):
            self.fail("subscripts and indexing ('[') are not allowed", tok.pos)
        if tok.is_op("("):
            self.fail("only allow-listed function names can be called", tok.pos)
        if tok.kind in ("number", "string", "name", "quoted_name") and not tok.is_word(
            "and", "or", "not", "in", "is", "AND", "OR", "NOT", "IN", "IS"
        ):
            if tok.text in _FORBIDDEN_WORDS:
                self.fail(_FORBIDDEN_WORDS[tok.text], tok.pos)
            self.fail(f"unexpected {tok.text!r}: an operator is missing", tok.pos)
        return expr

    def number(self, tok: Token, *, negative: bool = False, pos: int | None = None) -> Literal:
        text = ("-" if negative else "") + tok.text
        at = tok.pos if pos is None else pos
        if any(c in tok.text for c in ".eE"):
            value = float(text)
            if not math.isfinite(value):
                self.fail(f"number {text} is out of range", at)
            return Literal(value, "float", at)
        number = int(text)
        if not -(2**63) <= number <= 2**63 - 1:
            self.fail(f"integer {text} is out of the 64-bit range", at)
        return Literal(number, "int", at)

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return self.number(tok)
        if tok.kind == "string":
            self.advance()
            return Literal(tok.value, "string", tok.pos)
        if tok.kind == "quoted_name":
            self.advance()
            return Column(str(tok.value), tok.pos)
        if tok.is_op("("):
            self.advance()
            inner = self.expression()
            if self.tok.is_word("for"):
                self.fail(_FORBIDDEN_WORDS["for"], self.tok.pos)
            self.expect_op(")", "')'")
            return inner
        if tok.is_op("["):
            if self.bracket_has_for():
                self.fail("list comprehensions are not allowed", tok.pos)
            self.fail("list literals are only allowed after 'in'", tok.pos)
        if tok.kind == "name":
            return self.name()
        self.unexpected(tok, "a value, a column name or a function call")

    def name(self) -> Expr:
        tok = self.advance()
        word = tok.text
        if word.startswith("__"):
            self.fail(f"dunder names such as {word!r} are not allowed", tok.pos)
        if self.tok.is_op("("):
            return self.call(tok)
        if word in _CONSTANTS:
            c = _CONSTANTS[word]
            return Literal(c.value, c.type, tok.pos)
        if word in _FORBIDDEN_WORDS:
            self.fail(_FORBIDDEN_WORDS[word], tok.pos)
        if keyword.iskeyword(word) or word in ("and", "or", "not", "in", "AND", "OR", "NOT"):
            self.fail(f"keyword {word!r} is not allowed here", tok.pos)
        return Column(word, tok.pos)

    def call(self, name_tok: Token) -> Expr:
        name = name_tok.text.lower()
        pos = name_tok.pos
        spec = FUNCTIONS.get(name)
        if spec is None and name not in SPECIAL_FORMS:
            if name_tok.text in _FORBIDDEN_WORDS and name != "if":
                self.fail(_FORBIDDEN_WORDS[name_tok.text], pos)
            allowed = ", ".join(sorted([*FUNCTIONS, *SPECIAL_FORMS]))
            self.fail(f"unknown function {name_tok.text!r}; allowed functions: {allowed}", pos)
        self.advance()  # '('
        args: list[Expr] = []
        while not self.tok.is_op(")"):
            if self.tok.is_op("*", "**"):
                self.fail(f"starred arguments ('{self.tok.text}') are not allowed", self.tok.pos)
            arg = self.expression()
            if self.tok.is_op("=") and isinstance(arg, Column):
                self.fail("keyword arguments (name=value) are not allowed", self.tok.pos)
            if self.tok.is_word("for"):
                self.fail(_FORBIDDEN_WORDS["for"], self.tok.pos)
            args.append(arg)
            if not self.tok.is_op(","):
                break
            self.advance()
        self.expect_op(")", f"',' or ')' in the arguments of {name}()")
        if name in SPECIAL_FORMS:
            return self.special_form(name, tuple(args), pos)
        assert spec is not None
        low, high = spec.min_args, spec.max_args
        if len(args) < low or (high is not None and len(args) > high):
            if high is None:
                wanted = f"at least {low} argument{'s' * (low != 1)}"
            elif low == high:
                wanted = f"exactly {low} argument{'s' * (low != 1)}"
            else:
                wanted = f"{low} to {high} arguments"
            self.fail(
                f"{name}() takes {wanted}, got {len(args)} (signature: {spec.signature})", pos
            )
        for index, check in spec.literal_args:
            if index < len(args):
                arg = args[index]
                problem = (
                    check(arg.value) if isinstance(arg, Literal) and arg.type != "null" else None
                )
                if not isinstance(arg, Literal) or problem:
                    message = problem or check(object())
                    self.fail(f"argument {index + 1} of {name}(): {message}", arg.pos)
        return Call(name, tuple(args), pos)

    def special_form(self, name: str, args: tuple[Expr, ...], pos: int) -> Expr:
        wanted = SPECIAL_FORMS[name]
        if len(args) != wanted:
            shapes = {
                "if": "if(condition, then, else)",
                "between": "between(x, low, high)",
                "is_null": "is_null(x)",
                "not_null": "not_null(x)",
                "date": "date('yyyy-mm-dd')",
                "decimal": "decimal('12.34')",
            }
            self.fail(
                f"{name}() takes exactly {wanted} argument{'s' * (wanted != 1)}, got "
                f"{len(args)} (signature: {shapes[name]})",
                pos,
            )
        if name == "if":
            return Conditional(args[0], args[1], args[2], pos)
        if name == "between":
            return Between(args[0], args[1], args[2], pos)
        if name in ("is_null", "not_null"):
            return IsNull(args[0], name == "not_null", pos)
        arg = args[0]
        if not (isinstance(arg, Literal) and arg.type == "string"):
            self.fail(f"{name}() takes a string literal, e.g. {name}('...')", arg.pos)
        if name == "date":
            try:
                return Literal(dt.date.fromisoformat(arg.value), "date", pos)
            except ValueError:
                self.fail(f"invalid date {arg.value!r}: write date('yyyy-mm-dd')", arg.pos)
        try:
            value = Decimal(arg.value.strip())
        except InvalidOperation:
            self.fail(f"invalid decimal {arg.value!r}", arg.pos)
        if not value.is_finite() or len(value.as_tuple().digits) > 38:
            self.fail(f"decimal {arg.value!r} is out of range", arg.pos)
        return Literal(value, "decimal", pos)


def parse(text: str) -> Expr:
    """Parse expression text into a typed syntax tree.

    Parameters
    ----------
    text:
        The expression, e.g. ``"age >= 18 and segment in ['mass', 'affluent']"``.

    Returns
    -------
    Expr
        The tree; ``str(tree)`` is its canonical text, ``tree.columns`` the columns it reads.

    Raises
    ------
    ExpressionError
        For anything outside the grammar, naming the construct and the position.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()
