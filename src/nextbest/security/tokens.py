"""Short-lived JWT access tokens and opaque refresh tokens.

Access tokens are HS256 JWTs signed with a key derived from the key ring (so they need no
database look-up); they live minutes. Refresh tokens are random strings whose SHA-256 the
operational store keeps: each use rotates them (the old one is revoked), and presenting a
revoked one revokes its whole family (a stolen token that was already used is detected).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from nextbest.errors import NextbestError
from nextbest.privacy.keys import KeyRing

__all__ = [
    "ACCESS_TOKEN_MINUTES",
    "REFRESH_TOKEN_DAYS",
    "AccessClaims",
    "InvalidTokenError",
    "TokenSigner",
    "hash_secret",
    "new_refresh_token",
]

ACCESS_TOKEN_MINUTES = 15
REFRESH_TOKEN_DAYS = 7
_ALGORITHM = "HS256"
_ISSUER = "nextbest"
_AUDIENCE = "nextbest-api"


class InvalidTokenError(NextbestError):
    """A token that is malformed, expired, forged or revoked."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    roles: tuple[str, ...]
    token_id: str
    issued_at: datetime
    expires_at: datetime


def signing_key(keyring: KeyRing) -> bytes:
    # Derived (domain-separated) from the audit key so that no extra secret has to be
    # managed; knowing the JWT key does not reveal the audit key.
    return hmac.new(keyring.audit_key, b"nextbest/jwt-signing/v1", "sha256").digest()


class TokenSigner:
    """Issues and checks access tokens.

    Parameters
    ----------
    key:
        HMAC key (32 bytes); use :meth:`from_keyring`.
    lifetime:
        How long an access token is valid.
    """

    def __init__(self, key: bytes, lifetime: timedelta = timedelta(minutes=ACCESS_TOKEN_MINUTES)):
        self._key = key
        self.lifetime = lifetime

    @classmethod
    def from_keyring(cls, keyring: KeyRing, **kwargs: timedelta) -> TokenSigner:
        return cls(signing_key(keyring), **kwargs)

    def issue(self, subject: str, roles: tuple[str, ...], *, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims = {
            "sub": subject,
            "roles": sorted(roles),
            "jti": secrets.token_hex(8),
            "iat": int(issued.timestamp()),
            "exp": int((issued + self.lifetime).timestamp()),
            "iss": _ISSUER,
            "aud": _AUDIENCE,
            "typ": "access",
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """Decode and check signature, expiry, issuer and audience."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                issuer=_ISSUER,
                options={"require": ["sub", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("access token expired; refresh it") from None
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"access token rejected: {exc}") from None
        if claims.get("typ") != "access" or not isinstance(claims.get("roles"), list):
            raise InvalidTokenError("access token rejected: not an access token")
        return AccessClaims(
            subject=str(claims["sub"]),
            roles=tuple(str(r) for r in claims["roles"]),
            token_id=str(claims["jti"]),
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )


def new_refresh_token() -> str:
    """An opaque refresh token (256 random bits)."""
    return "nbr_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (refresh token, API key): enough, no salt needed."""
    return hashlib.sha256(secret.encode()).hexdigest()
