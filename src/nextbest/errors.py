"""The root of nextbest's exceptions; shells translate these once (CLI exit code, HTTP)."""

from __future__ import annotations

__all__ = ["NextbestError"]


class NextbestError(Exception):
    """An error the user can act on; its message names the field, row or rule at fault."""

    exit_code: int = 2
