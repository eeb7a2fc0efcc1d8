"""API keys for system integrations: ``nbk_<key id>_<secret>``.

The key id is stored in clear (to find the row and to show in lists), the whole key only as
its SHA-256. The secret has 256 bits of entropy, so a fast hash is enough.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from nextbest.security.tokens import hash_secret

__all__ = ["ApiKeyParts", "new_api_key", "parse_api_key", "secret_matches"]

_PREFIX = "nbk"


@dataclass(frozen=True, slots=True)
class ApiKeyParts:
    key_id: str
    full: str

    def __repr__(self) -> str:  # never print the secret
        return f"ApiKeyParts(key_id={self.key_id!r})"


def new_api_key() -> ApiKeyParts:
    key_id = secrets.token_hex(6)
    return ApiKeyParts(key_id, f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}")


def parse_api_key(value: str) -> ApiKeyParts | None:
    """Split a presented key; ``None`` when it does not look like one of ours."""
    prefix, _, rest = value.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != _PREFIX or len(key_id) != 12 or not secret:
        return None
    return ApiKeyParts(key_id, value)


def secret_matches(stored_hash: str, presented: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_secret(presented))
