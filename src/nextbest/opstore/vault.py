"""The PII vault: direct identifiers, encrypted per customer, reachable by blind index.

* ``put_many`` stores a *pending* version per customer tagged with the batch; the batch's
  ``commit_batch`` makes them visible atomically with the warehouse load, ``discard_batch``
  removes them.
* Each customer has one data key (``vault_key``), created on first sight and reused.
* ``erase`` crypto-shreds: the wrapped data key and every entry go, a tombstone stays.
* ``rotate_master_key`` re-wraps every data key under a new master key version.

See ``docs/security.md`` for the threat model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.orm import Session

from nextbest.errors import NextbestError
from nextbest.opstore.audit import AuditTrail
from nextbest.opstore.models import LegalHold, VaultEntry, VaultKey, VaultTombstone, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction
from nextbest.privacy.crypto import (
    WrappedKey,
    blind_index,
    blind_indexes,
    decrypt,
    encrypt,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from nextbest.privacy.keys import KeyRing

__all__ = ["LegalHoldError", "PiiVault", "Tombstone", "VaultError", "VaultRecord"]

LookupKind = Literal["mobile", "id_number"]
_INDEX_COLUMN = {
    "mobile": VaultEntry.mobile_index,
    "id_number": VaultEntry.id_number_index,
    "email": VaultEntry.email_index,
}
# Bound parameters per IN (...) list: far below SQLite's and PostgreSQL's limits.
_CHUNK = 900
_ROTATE_CHUNK = 5_000
_ENTRY_TABLE = VaultEntry.__table__
_KEY_TABLE = VaultKey.__table__
_T = TypeVar("_T")


class VaultError(NextbestError):
    """A vault operation cannot be done (unknown or erased customer, bad input)."""


class LegalHoldError(VaultError):
    """Erasure refused because the customer is under an active legal hold."""


@dataclass(frozen=True, slots=True)
class VaultRecord:
    """A customer's direct identifiers (plaintext: only ever in memory)."""

    customer_key: str
    name: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    mobile: str | None = None
    email: str | None = None

    def __repr__(self) -> str:  # keep identifiers out of logs and tracebacks
        return f"VaultRecord(customer_key={self.customer_key!r}, ...)"


@dataclass(frozen=True, slots=True)
class Tombstone:
    customer_key: str
    erased_at: datetime
    reason: str
    erased_by: str


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows on the Table (not the ORM class): no per-row ORM bookkeeping.

    SQLite's executemany is fast in-process; on PostgreSQL executemany costs a message
    exchange per row, so rows are streamed with ``COPY`` on the session's own connection
    (same transaction).
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _payload(record: VaultRecord) -> bytes:
    # customer_key is left out: the associated data binds the blob to it instead
    return _dumps(
        {
            "name": record.name,
            "id_type": record.id_type,
            "id_number": record.id_number,
            "mobile": record.mobile,
            "email": record.email,
        }
    ).encode()


class PiiVault:
    """Encrypted store of direct identifiers.

    Parameters
    ----------
    store:
        The operational store.
    keyring:
        Master keys (wrap data keys), blind-index key, audit key.
    """

    def __init__(self, store: OperationalStore, keyring: KeyRing) -> None:
        self.store = store
        self.keyring = keyring
        self.audit = AuditTrail(store, keyring)

    # --- writing ------------------------------------------------------------------------
    def put_many(
        self, records: Sequence[VaultRecord], batch_id: str, *, session: Session | None = None
    ) -> None:
        """Store each record as a pending version tagged with ``batch_id`` (bulk).

        A customer given twice keeps the last record; putting the same customer again in
        the same batch replaces the pending version. Erased customers are refused.
        """
        latest: dict[str, VaultRecord] = {}
        for record in records:
            latest[record.customer_key] = record
        if not latest:
            return
        keys = list(latest)
        now = utcnow()
        with in_transaction(self.store, session) as s:
            erased = self._tombstoned(s, keys)
            if erased:
                shown = ", ".join(sorted(erased)[:5])
                raise VaultError(
                    f"batch {batch_id}: {len(erased)} customer(s) were erased and may not be "
                    f"stored again (e.g. {shown}); filter them with PiiVault.tombstoned()"
                )
            data_keys = self._data_keys(s, keys, now)
            already = s.scalar(
                select(VaultEntry.id)
                .where(VaultEntry.batch_id == batch_id, VaultEntry.state == "pending")
                .limit(1)
            )
            for chunk in _chunks(keys) if already is not None else ():
                s.execute(
                    delete(VaultEntry).where(
                        VaultEntry.batch_id == batch_id,
                        VaultEntry.state == "pending",
                        VaultEntry.customer_key.in_(chunk),
                    )
                )
            chosen = list(latest.values())
            mobiles = blind_indexes(self.keyring, "mobile", [r.mobile for r in chosen])
            id_numbers = blind_indexes(self.keyring, "id_number", [r.id_number for r in chosen])
            emails = blind_indexes(self.keyring, "email", [r.email for r in chosen])
            rows = [
                {
                    "customer_key": record.customer_key,
                    "batch_id": batch_id,
                    "state": "pending",
                    "is_current": False,
                    "ciphertext": encrypt(
                        data_keys[record.customer_key], record.customer_key, _payload(record)
                    ),
                    "mobile_index": mobile,
                    "id_number_index": id_number,
                    "email_index": email,
                    "created_at": now,
                    "committed_at": None,
                }
                for record, mobile, id_number, email in zip(
                    chosen, mobiles, id_numbers, emails, strict=True
                )
            ]
            _bulk_insert(s, _ENTRY_TABLE, rows)

    def _data_keys(self, session: Session, keys: list[str], now: datetime) -> dict[str, bytes]:
        """Unwrap existing data keys and create (wrapped) ones for new customers."""
        found: dict[str, bytes] = {}
        for chunk in _chunks(keys):
            for customer, version, wrapped in session.execute(
                select(VaultKey.customer_key, VaultKey.master_version, VaultKey.wrapped_key).where(
                    VaultKey.customer_key.in_(chunk)
                )
            ):
                found[customer] = unwrap_data_key(
                    self.keyring, customer, WrappedKey(version, wrapped)
                )
        new_rows = []
        for key in keys:
            if key in found:
                continue
            data_key = new_data_key()
            wrapped = wrap_data_key(self.keyring, key, data_key)
            found[key] = data_key
            new_rows.append(
                {
                    "customer_key": key,
                    "master_version": wrapped.master_version,
                    "wrapped_key": wrapped.wrapped,
                    "created_at": now,
                    "rotated_at": None,
                }
            )
        if new_rows:
            _bulk_insert(session, _KEY_TABLE, new_rows)
        return found

    def commit_batch(self, batch_id: str, session: Session | None = None) -> int:
        """Make the batch's pending versions committed and current; return how many."""
        now = utcnow()
        with in_transaction(self.store, session) as s:
            in_batch = select(VaultEntry.customer_key).where(
                VaultEntry.batch_id == batch_id, VaultEntry.state == "pending"
            )
            s.execute(
                update(VaultEntry)
                .where(VaultEntry.is_current.is_(True), VaultEntry.customer_key.in_(in_batch))
                .values(is_current=False)
                .execution_options(synchronize_session=False)
            )
            result = s.execute(
                update(VaultEntry)
                .where(VaultEntry.batch_id == batch_id, VaultEntry.state == "pending")
                .values(state="committed", is_current=True, committed_at=now)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def discard_batch(self, batch_id: str, *, session: Session | None = None) -> int:
        """Delete the batch's pending versions (and data keys nothing else uses)."""
        with in_transaction(self.store, session) as s:
            customers = list(
                s.scalars(
                    select(VaultEntry.customer_key).where(
                        VaultEntry.batch_id == batch_id, VaultEntry.state == "pending"
                    )
                )
            )
            result = s.execute(
                delete(VaultEntry).where(
                    VaultEntry.batch_id == batch_id, VaultEntry.state == "pending"
                )
            )
            for chunk in _chunks(customers):
                s.execute(
                    delete(VaultKey).where(
                        VaultKey.customer_key.in_(chunk),
                        ~exists().where(VaultEntry.customer_key == VaultKey.customer_key),
                    )
                )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def pending_batch_ids(self, *, session: Session | None = None) -> set[str]:
        """Batches that still have pending vault versions (recovery looks at these)."""
        with in_transaction(self.store, session, readonly=True) as s:
            return set(
                s.scalars(
                    select(VaultEntry.batch_id).where(VaultEntry.state == "pending").distinct()
                )
            )

    # --- reading ------------------------------------------------------------------------
    def tombstoned(
        self, customer_keys: Iterable[str], *, session: Session | None = None
    ) -> set[str]:
        """Which of ``customer_keys`` were erased."""
        with in_transaction(self.store, session, readonly=True) as s:
            return self._tombstoned(s, list(customer_keys))

    @staticmethod
    def _tombstoned(session: Session, keys: list[str]) -> set[str]:
        erased: set[str] = set()
        if session.scalar(select(VaultTombstone.customer_key).limit(1)) is None:
            return erased  # nobody was ever erased: skip the per-chunk lookups
        for chunk in _chunks(keys):
            erased.update(
                session.scalars(
                    select(VaultTombstone.customer_key).where(
                        VaultTombstone.customer_key.in_(chunk)
                    )
                )
            )
        return erased

    def find_by(self, kind: LookupKind, value: str, *, session: Session | None = None) -> set[str]:
        """Customers whose current committed identifiers have this mobile / id number."""
        return self.existing_matches(kind, [value], session=session).get(value, set())

    def existing_matches(
        self, kind: LookupKind, values: Sequence[str], *, session: Session | None = None
    ) -> dict[str, set[str]]:
        """Bulk blind-index lookup: value -> customer keys (only values with a match)."""
        try:
            column = _INDEX_COLUMN[kind]
        except KeyError:
            raise VaultError(
                f"cannot look up the vault by {kind!r}; use mobile or id_number"
            ) from None
        by_token: dict[str, list[str]] = {}
        for value in values:
            if value:
                by_token.setdefault(blind_index(self.keyring, kind, value), []).append(value)
        matches: dict[str, set[str]] = {}
        tokens = list(by_token)
        with in_transaction(self.store, session, readonly=True) as s:
            for chunk in _chunks(tokens):
                for token, customer in s.execute(
                    select(column, VaultEntry.customer_key).where(
                        column.in_(chunk), VaultEntry.is_current.is_(True)
                    )
                ):
                    for value in by_token[token]:
                        matches.setdefault(value, set()).add(customer)
        return matches

    def reveal(
        self,
        customer_key: str,
        *,
        actor: str = "system",
        purpose: str = "unspecified",
        session: Session | None = None,
    ) -> VaultRecord:
        """Decrypt the customer's current committed identifiers; the access is audited."""
        with in_transaction(self.store, session) as s:
            row = s.execute(
                select(VaultEntry.ciphertext, VaultKey.master_version, VaultKey.wrapped_key)
                .join(VaultKey, VaultKey.customer_key == VaultEntry.customer_key)
                .where(VaultEntry.customer_key == customer_key, VaultEntry.is_current.is_(True))
            ).first()
            if row is None:
                if self._tombstoned(s, [customer_key]):
                    raise VaultError(f"customer {customer_key} was erased; nothing to reveal")
                raise VaultError(f"customer {customer_key} has no committed vault entry")
            ciphertext, version, wrapped = row
            data_key = unwrap_data_key(self.keyring, customer_key, WrappedKey(version, wrapped))
            fields: dict[str, Any] = json.loads(decrypt(data_key, customer_key, ciphertext))
            self.audit.append(
                "vault.reveal",
                "customer",
                customer_key,
                {"purpose": purpose},
                actor=actor,
                session=s,
            )
        return VaultRecord(customer_key=customer_key, **fields)

    # --- erasure and holds ----------------------------------------------------------------
    def place_legal_hold(
        self,
        customer_key: str,
        reason: str,
        *,
        actor: str = "system",
        session: Session | None = None,
    ) -> None:
        """Forbid erasure of the customer until the hold is released."""
        with in_transaction(self.store, session) as s:
            s.add(
                LegalHold(
                    customer_key=customer_key, reason=reason, placed_at=utcnow(), placed_by=actor
                )
            )
            self.audit.append(
                "vault.legal_hold",
                "customer",
                customer_key,
                {"reason": reason},
                actor=actor,
                session=s,
            )

    def release_legal_hold(
        self, customer_key: str, *, actor: str = "system", session: Session | None = None
    ) -> int:
        """Release every active hold of the customer; return how many were released."""
        with in_transaction(self.store, session) as s:
            result = s.execute(
                update(LegalHold)
                .where(LegalHold.customer_key == customer_key, LegalHold.released_at.is_(None))
                .values(released_at=utcnow(), released_by=actor)
                .execution_options(synchronize_session=False)
            )
            self.audit.append(
                "vault.legal_hold_released", "customer", customer_key, actor=actor, session=s
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def on_legal_hold(self, customer_key: str, *, session: Session | None = None) -> bool:
        with in_transaction(self.store, session, readonly=True) as s:
            return self._held(s, customer_key)

    @staticmethod
    def _held(session: Session, customer_key: str) -> bool:
        return (
            session.scalar(
                select(LegalHold.id)
                .where(LegalHold.customer_key == customer_key, LegalHold.released_at.is_(None))
                .limit(1)
            )
            is not None
        )

    def erase(
        self,
        customer_key: str,
        reason: str,
        *,
        actor: str = "system",
        session: Session | None = None,
    ) -> Tombstone:
        """Crypto-shred the customer: delete the data key and all entries, keep a tombstone.

        Raises
        ------
        LegalHoldError
            If an active legal hold exists for the customer.
        """
        with in_transaction(self.store, session) as s:
            # Lock the key row first so a concurrent put_many cannot slip a version in.
            s.execute(
                select(VaultKey.customer_key)
                .where(VaultKey.customer_key == customer_key)
                .with_for_update()
            )
            if self._held(s, customer_key):
                raise LegalHoldError(
                    f"customer {customer_key} is under legal hold; release the hold before erasing"
                )
            existing = s.get(VaultTombstone, customer_key)
            if existing is not None:
                return Tombstone(
                    existing.customer_key, existing.erased_at, existing.reason, existing.erased_by
                )
            entries = s.execute(delete(VaultEntry).where(VaultEntry.customer_key == customer_key))
            s.execute(delete(VaultKey).where(VaultKey.customer_key == customer_key))
            tombstone = VaultTombstone(
                customer_key=customer_key, erased_at=utcnow(), reason=reason, erased_by=actor
            )
            s.add(tombstone)
            self.audit.append(
                "vault.erase",
                "customer",
                customer_key,
                {"reason": reason, "entries": int(entries.rowcount or 0)},  # type: ignore[attr-defined]
                actor=actor,
                session=s,
            )
            s.flush()
            return Tombstone(customer_key, tombstone.erased_at, reason, actor)

    def tombstone(self, customer_key: str, *, session: Session | None = None) -> Tombstone | None:
        with in_transaction(self.store, session, readonly=True) as s:
            row = s.get(VaultTombstone, customer_key)
            return (
                None
                if row is None
                else Tombstone(row.customer_key, row.erased_at, row.reason, row.erased_by)
            )

    # --- keys ---------------------------------------------------------------------------
    def rotate_master_key(self, *, actor: str = "system") -> int:
        """Add a master key version and re-wrap every data key under it; return the version.

        The key file is written first (it keeps the old versions), then the data keys are
        re-wrapped in chunks, each in its own transaction: an interrupted rotation leaves a
        mix of versions that all still open, and running it again finishes the job.
        """
        version = self.keyring.add_master_version()
        rewrapped = 0
        last = ""
        while True:
            with self.store.session() as s:
                rows = s.execute(
                    select(VaultKey.customer_key, VaultKey.master_version, VaultKey.wrapped_key)
                    .where(and_(VaultKey.master_version != version, VaultKey.customer_key > last))
                    .order_by(VaultKey.customer_key)
                    .limit(_ROTATE_CHUNK)
                    .with_for_update()
                ).all()
                if not rows:
                    break
                now = utcnow()
                params = []
                for customer, old_version, wrapped in rows:
                    data_key = unwrap_data_key(
                        self.keyring, customer, WrappedKey(old_version, wrapped)
                    )
                    new = wrap_data_key(self.keyring, customer, data_key, version)
                    params.append(
                        {
                            "customer_key": customer,
                            "master_version": version,
                            "wrapped_key": new.wrapped,
                            "rotated_at": now,
                        }
                    )
                # ORM bulk UPDATE by primary key: executemany under the hood
                s.execute(update(VaultKey), params)
                rewrapped += len(params)
                last = rows[-1][0]
        self.audit.append(
            "vault.rotate_master_key",
            "keyring",
            str(version),
            {"rewrapped": rewrapped},
            actor=actor,
        )
        return version
