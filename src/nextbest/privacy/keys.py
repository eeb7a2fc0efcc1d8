"""The key ring: every secret nextbest holds, kept apart from the data it protects.

Four independent secrets, so that compromising one purpose does not compromise another:

* versioned **master keys** wrap the per-customer data keys of the PII vault; rotation adds a
  version and old versions stay available to unwrap what they wrapped;
* the **pseudonym key** turns source identifiers into warehouse keys (HMAC);
* the **blind-index key** turns direct identifiers into vault lookup tokens (HMAC);
* the **audit key** chains the audit log (HMAC), so that the database alone cannot rewrite it.

The key file is JSON (see ``docs/security.md``)::

    {"format": "nextbest-keys/1", "current_master_version": 1,
     "master_keys": {"1": "<base64 32 bytes>"}, "pseudonym_key": "<base64 32 bytes>",
     "blind_index_key": "<base64 32 bytes>", "audit_key": "<base64 32 bytes>"}

``NEXTBEST_MASTER_KEY`` (``Settings.master_key``) takes precedence over the file and holds
either the whole document above, base64-encoded, or a single base64 secret of 32 bytes from
which the four keys are derived with HKDF-SHA256 (one master version; rotation then needs
the key-file form).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from nextbest.errors import NextbestError

if TYPE_CHECKING:
    from nextbest.config import Settings

__all__ = ["KEY_BYTES", "KEY_FILE_FORMAT", "KeyRing", "KeyRingError", "init_keys"]

KEY_FILE_FORMAT = "nextbest-keys/1"
KEY_BYTES = 32
_SINGLE_SECRET_SALT = b"nextbest-keyring-v1"


class KeyRingError(NextbestError):
    """The keys are missing, malformed or cannot be used for the requested operation."""


def _b64(secret: bytes) -> str:
    return base64.b64encode(secret).decode("ascii")


def _unb64(value: Any, what: str, origin: str) -> bytes:
    if not isinstance(value, str):
        raise KeyRingError(f"{origin}: field {what!r} must be a base64 string")
    try:
        secret = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise KeyRingError(f"{origin}: field {what!r} is not valid base64") from exc
    if len(secret) != KEY_BYTES:
        raise KeyRingError(
            f"{origin}: field {what!r} must decode to {KEY_BYTES} bytes, got {len(secret)}"
        )
    return secret


def _derive(secret: bytes, label: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=_SINGLE_SECRET_SALT,
        info=label.encode(),
    )
    return hkdf.derive(secret)


class KeyRing:
    """All of nextbest's secrets; load with :meth:`KeyRing.load`.

    Parameters
    ----------
    master_keys:
        Master key per version (version -> 32 bytes). Versions start at 1.
    current_master_version:
        The version that wraps new data keys.
    pseudonym_key, blind_index_key, audit_key:
        32-byte HMAC keys for pseudonyms, vault blind indexes and the audit chain.
    source:
        Key file the ring was read from, or ``None`` when it came from the environment
        (such a ring cannot be rotated, because nextbest never writes the environment).
    """

    __slots__ = (
        "_master_keys",
        "audit_key",
        "blind_index_key",
        "current_master_version",
        "pseudonym_key",
        "source",
    )

    def __init__(
        self,
        master_keys: dict[int, bytes],
        current_master_version: int,
        pseudonym_key: bytes,
        blind_index_key: bytes,
        audit_key: bytes,
        source: Path | None = None,
    ) -> None:
        if current_master_version not in master_keys:
            raise KeyRingError(
                f"current master key version {current_master_version} is not in the key ring"
            )
        self._master_keys = dict(master_keys)
        self.current_master_version = current_master_version
        self.pseudonym_key = pseudonym_key
        self.blind_index_key = blind_index_key
        self.audit_key = audit_key
        self.source = source

    def __repr__(self) -> str:  # never print a secret, not even by accident in a traceback
        return (
            f"KeyRing(master_versions={sorted(self._master_keys)}, "
            f"current={self.current_master_version}, source={self.source})"
        )

    # --- construction -----------------------------------------------------------------
    @classmethod
    def generate(cls, source: Path | None = None) -> KeyRing:
        """A fresh ring of random secrets (master version 1)."""
        return cls(
            master_keys={1: secrets.token_bytes(KEY_BYTES)},
            current_master_version=1,
            pseudonym_key=secrets.token_bytes(KEY_BYTES),
            blind_index_key=secrets.token_bytes(KEY_BYTES),
            audit_key=secrets.token_bytes(KEY_BYTES),
            source=source,
        )

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyRing:
        """Derive a ring from one 32-byte secret (HKDF-SHA256 with one label per key)."""
        if len(secret) != KEY_BYTES:
            raise KeyRingError(f"a single master secret must be {KEY_BYTES} bytes")
        return cls(
            master_keys={1: _derive(secret, "master/1")},
            current_master_version=1,
            pseudonym_key=_derive(secret, "pseudonym"),
            blind_index_key=_derive(secret, "blind-index"),
            audit_key=_derive(secret, "audit"),
        )

    @classmethod
    def from_document(cls, document: Any, origin: str, source: Path | None = None) -> KeyRing:
        """Build a ring from the key-file JSON document (already parsed)."""
        if not isinstance(document, dict) or document.get("format") != KEY_FILE_FORMAT:
            raise KeyRingError(f"{origin}: not a nextbest key file (format {KEY_FILE_FORMAT})")
        masters = document.get("master_keys")
        if not isinstance(masters, dict) or not masters:
            raise KeyRingError(f"{origin}: field 'master_keys' must be a non-empty mapping")
        try:
            master_keys = {
                int(v): _unb64(k, f"master_keys.{v}", origin) for v, k in masters.items()
            }
            current = int(document.get("current_master_version", max(master_keys)))
        except ValueError as exc:
            raise KeyRingError(f"{origin}: master key versions must be integers") from exc
        return cls(
            master_keys=master_keys,
            current_master_version=current,
            pseudonym_key=_unb64(document.get("pseudonym_key"), "pseudonym_key", origin),
            blind_index_key=_unb64(document.get("blind_index_key"), "blind_index_key", origin),
            audit_key=_unb64(document.get("audit_key"), "audit_key", origin),
            source=source,
        )

    @classmethod
    def from_env_value(cls, value: str) -> KeyRing:
        """Parse ``NEXTBEST_MASTER_KEY``: base64 of a key document or of a 32-byte secret."""
        origin = "NEXTBEST_MASTER_KEY"
        try:
            raw = base64.b64decode(value.strip().encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise KeyRingError(f"{origin} is not valid base64") from exc
        if len(raw) == KEY_BYTES:
            return cls.from_secret(raw)
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KeyRingError(
                f"{origin} must be base64 of {KEY_BYTES} random bytes or of a key-file document"
            ) from exc
        return cls.from_document(document, origin)

    @classmethod
    def load(cls, settings: Settings) -> KeyRing:
        """The installation's key ring: ``NEXTBEST_MASTER_KEY`` if set, else the key file.

        Raises
        ------
        KeyRingError
            When neither is available (run ``nextbest init``) or the keys are malformed.
        """
        if settings.master_key:
            return cls.from_env_value(settings.master_key)
        path = settings.key_file
        if not path.is_file():
            raise KeyRingError(
                f"no keys at {path}: run `nextbest init` to create them, or set NEXTBEST_MASTER_KEY"
            )
        return _read_key_file(path)

    # --- use ------------------------------------------------------------------------------
    @property
    def master_versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._master_keys))

    @property
    def current_master_key(self) -> bytes:
        return self._master_keys[self.current_master_version]

    def master_key(self, version: int) -> bytes:
        """The master key of ``version``; a missing version is a :class:`KeyRingError`."""
        try:
            return self._master_keys[version]
        except KeyError:
            raise KeyRingError(
                f"master key version {version} is not in the key ring ({self.source or 'env'})"
            ) from None

    def add_master_version(self) -> int:
        """Add a new random master key, make it current and save the key file.

        The file is rewritten before any data key is re-wrapped, so a crash in between
        leaves a ring that still opens every wrapped key.
        """
        if self.source is None:
            raise KeyRingError(
                "the keys come from NEXTBEST_MASTER_KEY, which nextbest cannot rewrite: "
                "move them to a key file (unset the variable and run `nextbest init`) to rotate"
            )
        version = max(self._master_keys) + 1
        self._master_keys[version] = secrets.token_bytes(KEY_BYTES)
        self.current_master_version = version
        self.save(self.source)
        return version

    def to_document(self) -> dict[str, Any]:
        return {
            "format": KEY_FILE_FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "current_master_version": self.current_master_version,
            "master_keys": {str(v): _b64(k) for v, k in sorted(self._master_keys.items())},
            "pseudonym_key": _b64(self.pseudonym_key),
            "blind_index_key": _b64(self.blind_index_key),
            "audit_key": _b64(self.audit_key),
        }

    def save(self, path: Path) -> None:
        """Write the ring to ``path`` with mode 0600, atomically (temp file + replace)."""
        _prepare_key_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_document(), handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        self.source = path


def _read_key_file(path: Path) -> KeyRing:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KeyRingError(f"{path}: key file is not valid JSON ({exc.msg})") from exc
    return KeyRing.from_document(document, str(path), source=path)


def _prepare_key_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A folder-level ignore file means the keys can never be committed by accident, even when
    # NEXTBEST_HOME points inside a git work tree (as `make demo` does).
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")


def init_keys(settings: Settings) -> Path:
    """Create the key file (mode 0600) if it does not exist yet; return its path.

    Idempotent: an existing key file is validated and kept, never overwritten.
    """
    path = settings.key_file
    if path.is_file():
        _read_key_file(path)  # validate: a damaged key file must not pass silently
        return path
    KeyRing.generate().save(path)
    return path
