"""A short-lived cache of authenticated callers, by the credential they presented.

Checking a credential costs a store round trip (current roles, active flag) on every
request; at hundreds of requests per second from one integration that is most of the
request. Entries live ``ttl`` seconds (1 s by default), so a role revoked or an account
deactivated in *another* process takes effect within that time; the API drops the whole
cache at once when it changes accounts or keys itself.
"""

from __future__ import annotations

import hashlib
import threading
import time

from nextbest.security.permissions import Principal

__all__ = ["PrincipalCache"]


class PrincipalCache:
    def __init__(self, ttl: float = 1.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(credential: str) -> bytes:
        # keyed by a digest: the cache never holds a usable credential
        return hashlib.sha256(credential.encode()).digest()

    def get(self, credential: str) -> Principal | None:
        found = self._entries.get(self._key(credential))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, credential: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[self._key(credential)] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
