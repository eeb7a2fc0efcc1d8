"""Errors raised by the decisioning core; each message names the file, offer or rule."""

from __future__ import annotations

from nextbest.errors import NextbestError

__all__ = ["DecisionError"]


class DecisionError(NextbestError):
    """An offer catalogue, policy or decision input is invalid or inconsistent."""
