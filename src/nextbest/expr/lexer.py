"""Tokenizer of the expression language.

It recognises more than the grammar allows (``.``, ``:=``, ``**``, ``{`` ...) so that the
parser can refuse those constructs by name instead of with a vague syntax error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from nextbest.expr.errors import ExpressionError

__all__ = ["Token", "TokenKind", "tokenize"]

TokenKind = Literal["number", "string", "name", "quoted_name", "op", "end"]

_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[^\W\d]\w*")
# Longest first so that '==' is not read as '=' '='.
_OPERATORS = (
    "**", "//", ":=", "==", "!=", "<=", ">=", "<>", "<<", ">>", "&&", "||", "->",
    "+", "-", "*", "/", "%", "<", ">", "=", "(", ")", "[", "]", ",", ".", ":", ";",
    "{", "}", "&", "|", "^", "~", "@", "!",
)  # fmt: skip
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_STRING_PREFIXES = {"f", "F", "r", "R", "b", "B", "u", "U", "rb", "br", "fr", "rf", "Rb", "bR"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the source text of the token
    pos: int
    value: object = None  # decoded value for numbers, strings and quoted names

    def is_op(self, *ops: str) -> bool:
        return self.kind == "op" and self.text in ops

    def is_word(self, *words: str) -> bool:
        return self.kind == "name" and self.text in words


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt not in _ESCAPES:
                raise ExpressionError(
                    f"unsupported escape '\\{nxt}' in string (use \\\\, \\', \\\", \\n, \\t)",
                    position=i,
                    text=text,
                )
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExpressionError("unterminated string literal", position=start, text=text)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with one ``end`` token.

    Raises
    ------
    ExpressionError
        On characters outside the language, unterminated strings, string prefixes
        (f-strings and the like) and malformed numbers.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit() or (ch == "." and text[i + 1 : i + 2].isdigit()):
            m = _NUMBER.match(text, i)
            assert m is not None
            end = m.end()
            if end < n and (text[end].isalnum() or text[end] == "_"):
                raise ExpressionError(
                    f"malformed number {text[i : end + 1]!r} (only decimal literals like 12, "
                    "3.5, 1e6 are allowed)",
                    position=i,
                    text=text,
                )
            tokens.append(Token("number", m.group(), i))
            i = end
            continue
        if ch in "'\"":
            value, end = _string(text, i)
            tokens.append(Token("string", text[i:end], i, value))
            i = end
            continue
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ExpressionError("unterminated `quoted column name`", position=i, text=text)
            name = text[i + 1 : end]
            if not name.strip():
                raise ExpressionError("empty `quoted column name`", position=i, text=text)
            tokens.append(Token("quoted_name", text[i : end + 1], i, name))
            i = end + 1
            continue
        m = _NAME.match(text, i)
        if m:
            word = m.group()
            if m.end() < n and text[m.end()] in "'\"" and word in _STRING_PREFIXES:
                what = "f-strings are" if "f" in word.lower() else f"string prefix {word!r} is"
                raise ExpressionError(f"{what} not allowed", position=i, text=text)
            tokens.append(Token("name", word, i))
            i = m.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            raise ExpressionError(f"unexpected character {ch!r}", position=i, text=text)
    tokens.append(Token("end", "", n))
    return tokens
