"""Errors raised by the customer-value models; each names the column, row or rule at fault."""

from __future__ import annotations

from nextbest.errors import NextbestError

__all__ = ["ModelNotFittedError", "ValueInputError"]


class ValueInputError(NextbestError, ValueError):
    """Input data for a value model breaks its contract (missing column, duplicate key, ...)."""


class ModelNotFittedError(NextbestError, RuntimeError):
    """A prediction was asked of a model before ``fit`` was called."""
