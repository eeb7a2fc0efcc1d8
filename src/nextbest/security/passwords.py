"""Password hashing (argon2id) and the password rule.

There are no default passwords: every account gets its password from whoever creates it
(``nextbest users create`` prompts for one); only ``nextbest demo-users`` generates some, for
a demo installation, and prints them once.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from nextbest.errors import NextbestError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "WeakPasswordError",
    "check_password_rule",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "set_hash_cost",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 12
# argon2-cffi's defaults follow RFC 9106's second recommended option (64 MiB, t=3).
_HASHER = PasswordHasher()
# A hash to verify against when the user does not exist, so that the answer takes as long
# as for a wrong password and does not reveal which user names exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class WeakPasswordError(NextbestError):
    """The password does not meet the rule (it names which part)."""


def check_password_rule(password: str, username: str = "") -> None:
    """Raise :class:`WeakPasswordError` unless the password is long and not the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(
            f"password: must be at least {MIN_PASSWORD_LENGTH} characters, got {len(password)}"
        )
    if username and username.lower() in password.lower():
        raise WeakPasswordError("password: must not contain the user name")
    if len(set(password)) < 5:
        raise WeakPasswordError("password: must use at least 5 different characters")


def set_hash_cost(time_cost: int, memory_cost_kib: int) -> None:
    """Change the argon2 cost for new hashes (tests use a cheap setting; never lower it in
    production). Existing hashes keep verifying: their parameters are in the hash."""
    global _HASHER, _DUMMY_HASH
    _HASHER = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=1)
    _DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash with a random salt (PHC string format)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash still costs one verification."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)


def generate_password(length: int = 20) -> str:
    """A random password for demo accounts (URL-safe alphabet)."""
    return secrets.token_urlsafe(length)[:length]
