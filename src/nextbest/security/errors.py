"""Errors of authentication and authorisation (translated to 401 / 403 / 423 by the API)."""

from __future__ import annotations

from datetime import datetime

from nextbest.errors import NextbestError

__all__ = ["AccessDeniedError", "AccountLockedError", "AuthenticationError"]


class AuthenticationError(NextbestError):
    """Unknown user, wrong password, or a bad/expired/revoked token or key."""

    exit_code = 3


class AccountLockedError(AuthenticationError):
    """Too many failed logins; the lock ends by itself at ``until``."""

    def __init__(self, username: str, until: datetime) -> None:
        super().__init__(
            f"account {username!r} is locked after repeated failed logins until "
            f"{until.isoformat(timespec='seconds')}"
        )
        self.until = until


class AccessDeniedError(NextbestError):
    """The caller lacks the permission the action needs (the message names it)."""

    exit_code = 3
