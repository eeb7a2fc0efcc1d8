"""Envelope encryption and keyed tokens for the PII vault.

Each customer has one random 256-bit *data key*. Vault entries are encrypted with it
(AES-256-GCM, fresh 96-bit nonce per entry). The data key itself is stored only *wrapped*:
encrypted with AES-256-GCM under the current master key version. Both layers use associated
data that names the customer key, so a ciphertext copied onto another customer's row fails
authentication instead of revealing anything. Destroying the wrapped data key makes every
entry of that customer unreadable for good (crypto-shredding).

Keyed tokens (HMAC-SHA256, truncated to 128 bits) are rendered with the letters ``a``–``p``
only, so no token can ever look like a run of digits to an identifier scan.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nextbest.errors import NextbestError
from nextbest.privacy.keys import KEY_BYTES, KeyRing
from nextbest.privacy.masking import normalise_mobile_text

__all__ = [
    "HEX_TO_LETTERS",
    "BlindIndexKind",
    "DecryptionError",
    "KeyedHasher",
    "WrappedKey",
    "blind_index",
    "blind_indexes",
    "decrypt",
    "encrypt",
    "keyed_token",
    "new_data_key",
    "normalise_for_index",
    "unwrap_data_key",
    "wrap_data_key",
]

BlindIndexKind = Literal["mobile", "id_number", "email"]

_BLOB_VERSION = b"\x01"
_NONCE_BYTES = 12
HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


class DecryptionError(NextbestError):
    """A ciphertext or wrapped key failed authentication (wrong key, wrong row, tampered)."""


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under one master key version."""

    master_version: int
    wrapped: bytes


def keyed_token(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` truncated to 128 bits, as 32 letters ``a``–``p``."""
    return hmac.digest(key, message, "sha256")[:16].hex().translate(HEX_TO_LETTERS)


class KeyedHasher:
    """HMAC-SHA256 with a fixed key (and message prefix), for many messages in a loop.

    Equal to ``hmac.digest(key, prefix + message, "sha256")``, about twice as fast: the
    SHA-256 states after the padded key (and the prefix) are computed once and copied.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, prefix: bytes = b"") -> None:
        block = 64  # SHA-256 block size (RFC 2104)
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._inner.update(prefix)
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def token(self, message: bytes) -> str:
        """Like :func:`keyed_token`: 128 bits as 32 letters ``a``–``p``."""
        return self.digest(message)[:16].hex().translate(HEX_TO_LETTERS)


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return os.urandom(KEY_BYTES)


def _wrap_aad(customer_key: str, version: int) -> bytes:
    return f"nextbest/data-key/v1|{customer_key}|{version}".encode()


def _entry_aad(customer_key: str) -> bytes:
    return f"nextbest/vault-entry/v1|{customer_key}".encode()


def wrap_data_key(
    keyring: KeyRing, customer_key: str, data_key: bytes, version: int | None = None
) -> WrappedKey:
    """Encrypt ``data_key`` under master ``version`` (default: the current one)."""
    version = keyring.current_master_version if version is None else version
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(keyring.master_key(version)).encrypt(
        nonce, data_key, _wrap_aad(customer_key, version)
    )
    return WrappedKey(version, nonce + sealed)


def unwrap_data_key(keyring: KeyRing, customer_key: str, wrapped: WrappedKey) -> bytes:
    """Recover a data key; raises :class:`DecryptionError` if it does not authenticate."""
    master = keyring.master_key(wrapped.master_version)
    nonce, sealed = wrapped.wrapped[:_NONCE_BYTES], wrapped.wrapped[_NONCE_BYTES:]
    try:
        return AESGCM(master).decrypt(
            nonce, sealed, _wrap_aad(customer_key, wrapped.master_version)
        )
    except InvalidTag:
        raise DecryptionError(
            f"data key of customer {customer_key} (master version {wrapped.master_version}) "
            "does not authenticate: wrong key file or tampered vault_key row"
        ) from None


def encrypt(data_key: bytes, customer_key: str, plaintext: bytes) -> bytes:
    """Encrypt one vault entry: ``version byte | nonce | ciphertext+tag``."""
    nonce = os.urandom(_NONCE_BYTES)
    return (
        _BLOB_VERSION + nonce + AESGCM(data_key).encrypt(nonce, plaintext, _entry_aad(customer_key))
    )


def decrypt(data_key: bytes, customer_key: str, blob: bytes) -> bytes:
    """Decrypt a blob made by :func:`encrypt` for the same customer key."""
    if blob[:1] != _BLOB_VERSION:
        raise DecryptionError(f"vault entry of customer {customer_key}: unknown blob format")
    nonce = blob[1 : 1 + _NONCE_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, blob[1 + _NONCE_BYTES :], _entry_aad(customer_key))
    except InvalidTag:
        raise DecryptionError(
            f"vault entry of customer {customer_key} does not authenticate: "
            "it belongs to another customer or was tampered with"
        ) from None


def normalise_for_index(kind: BlindIndexKind, value: str) -> str:
    """The canonical form a blind index is computed over.

    Mobiles lose spaces, dashes and a ``+86``/``86``/``0086`` prefix (leaving 11 digits);
    identity numbers are upper-cased (check character ``x`` -> ``X``); e-mails lower-cased.
    """
    text = value.strip()
    if kind == "mobile":
        return normalise_mobile_text(text)
    if kind == "id_number":
        return text.upper()
    if kind == "email":
        return text.lower()
    raise ValueError(f"unknown blind-index kind {kind!r}")


def blind_index(keyring: KeyRing, kind: BlindIndexKind, value: str) -> str:
    """Keyed lookup token for ``value``: equal normalised values give equal tokens.

    The token reveals nothing without the blind-index key, which lives outside the database.
    """
    canonical = normalise_for_index(kind, value)
    return keyed_token(keyring.blind_index_key, f"{kind}|{canonical}".encode())


def blind_indexes(
    keyring: KeyRing, kind: BlindIndexKind, values: Iterable[str | None]
) -> list[str | None]:
    """:func:`blind_index` of many values (``None`` and empty stay ``None``), faster."""
    hasher = KeyedHasher(keyring.blind_index_key, f"{kind}|".encode())
    return [hasher.token(normalise_for_index(kind, v).encode()) if v else None for v in values]
