"""The one exception of the expression language."""

from __future__ import annotations

from nextbest.errors import NextbestError

__all__ = ["ExpressionError"]


class ExpressionError(NextbestError):
    """An expression was refused (parse, type check, compilation) or failed on a record.

    Attributes
    ----------
    reason:
        What is wrong, naming the construct, function or column at fault.
    position:
        0-based column offset in the expression text, when known.
    text:
        The expression text, when known (used to draw a caret under ``position``).
    """

    def __init__(self, reason: str, *, position: int | None = None, text: str | None = None):
        self.reason = reason
        self.position = position
        self.text = text
        message = reason if position is None else f"{reason} (at position {position})"
        if text is not None and position is not None and "\n" not in text:
            message += f"\n    {text}\n    {' ' * position}^"
        elif text is not None:
            message += f" in expression {text!r}"
        super().__init__(message)
