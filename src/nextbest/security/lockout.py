"""Lockout after repeated failed logins: a pure rule over (failures, locked_until, now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["LockoutPolicy", "LoginState"]


@dataclass(frozen=True, slots=True)
class LoginState:
    failed_count: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``max_failures`` consecutive failures lock the account for ``lock_for``.

    A success resets the count; a lock expires by itself (no administrator needed for a
    forgotten password, while guessing stays limited to ``max_failures`` tries per period).
    """

    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)

    def is_locked(self, state: LoginState, now: datetime) -> bool:
        return state.locked_until is not None and now < state.locked_until

    def after_failure(self, state: LoginState, now: datetime) -> LoginState:
        count = 1 if self._lock_expired(state, now) else state.failed_count + 1
        if count >= self.max_failures:
            return LoginState(count, now + self.lock_for)
        return LoginState(count, None)

    def after_success(self) -> LoginState:
        return LoginState(0, None)

    @staticmethod
    def _lock_expired(state: LoginState, now: datetime) -> bool:
        return state.locked_until is not None and now >= state.locked_until
