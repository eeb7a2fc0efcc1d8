"""Data-subject requests: export a customer's data, withdraw consent, erase.

* **export** gathers what nextbest holds about the person (identifiers from the vault,
  profile attributes from the published copy, consent state, legal holds) for handing to
  them; it is audited with the request reference.
* **withdraw consent** records a withdrawal for every channel of the purpose(s) at the
  current time: it wins immediately over any earlier grant.
* **erase** crypto-shreds the vault record (its data key is deleted, so every copy of the
  ciphertext, backups included, becomes unreadable), withdraws every consent, and is
  refused while a legal hold is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nextbest.domain.enums import ConsentPurpose, ConsentStatus
from nextbest.domain.schema import VAULT_FIELDS
from nextbest.errors import NextbestError
from nextbest.opstore.consents import ConsentEvent, ConsentLedger, ConsentState
from nextbest.opstore.models import ALL_CHANNELS, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.vault import PiiVault, Tombstone, VaultError
from nextbest.privacy.keys import KeyRing
from nextbest.services.audit import AuditService
from nextbest.services.customers import CustomerNotFoundError, PublishedCustomers

__all__ = ["DataSubjectRequests", "RequestError", "SubjectExport"]

_MIN_REFERENCE = 4


class RequestError(NextbestError):
    """A data-subject request without a reference, or for an unknown customer."""


@dataclass(frozen=True, slots=True)
class SubjectExport:
    customer_key: str
    exported_at: datetime
    identifiers: dict[str, str | None]
    attributes: dict[str, Any]
    consents: list[ConsentState]
    legal_hold: bool
    erased: bool


def _reference(reference: str) -> str:
    text = reference.strip()
    if len(text) < _MIN_REFERENCE:
        raise RequestError(
            f"reference: at least {_MIN_REFERENCE} characters (the request's case number)"
        )
    return text[:100]


class DataSubjectRequests:
    def __init__(
        self,
        store: OperationalStore,
        keyring: KeyRing,
        audit: AuditService,
        published: PublishedCustomers,
    ) -> None:
        self.store = store
        self.vault = PiiVault(store, keyring)
        self.ledger = ConsentLedger(store)
        self.audit = audit
        self.published = published

    def export(self, customer_key: str, reference: str, *, actor: str) -> SubjectExport:
        """Everything held about the customer, identifiers in clear (audited)."""
        ref = _reference(reference)
        rows, _ = self.published.query({}, {customer_key}, 1, 0)
        with self.store.session() as s:
            erased = bool(self.vault.tombstoned([customer_key], session=s))
            if not rows and not erased:
                raise CustomerNotFoundError(f"customer_key: no customer {customer_key!r}")
            identifiers: dict[str, str | None] = dict.fromkeys(VAULT_FIELDS)
            if not erased:
                try:
                    record = self.vault.reveal(
                        customer_key, actor=actor, purpose="data_subject_request", session=s
                    )
                    identifiers = {name: getattr(record, name) for name in VAULT_FIELDS}
                except VaultError:
                    pass  # profile without a vault entry: nothing to reveal
            consents = self.ledger.current(customer_key, session=s)
            held = self.vault.on_legal_hold(customer_key, session=s)
            self.audit.record(
                "dsr.export", "customer", customer_key, {"reference": ref}, actor=actor, session=s
            )
        self.audit.anchor()
        attributes = {
            k: v
            for k, v in (rows[0] if rows else {}).items()
            if not k.startswith("_") and not k.endswith("_masked") and k != "customer_key"
        }
        return SubjectExport(
            customer_key, utcnow(), identifiers, attributes, consents, held, erased
        )

    def withdraw_consent(
        self,
        customer_key: str,
        reference: str,
        *,
        actor: str,
        purposes: tuple[str, ...] = (),
    ) -> list[ConsentState]:
        """Withdraw the purposes (all purposes when empty) on every channel, now."""
        ref = _reference(reference)
        chosen = purposes or tuple(p.value for p in ConsentPurpose)
        now = utcnow()
        events = [
            ConsentEvent(customer_key, p, ALL_CHANNELS, ConsentStatus.WITHDRAWN.value, now, "dsr")
            for p in chosen
        ]
        with self.store.session() as s:
            self.ledger.record(events, session=s)
            self.audit.record(
                "dsr.withdraw_consent",
                "customer",
                customer_key,
                {"reference": ref, "purposes": list(chosen)},
                actor=actor,
                session=s,
            )
            states = self.ledger.current(customer_key, session=s)
        self.audit.anchor()
        return states

    def erase(self, customer_key: str, reference: str, *, actor: str) -> Tombstone:
        """Crypto-shred the vault record and withdraw every consent (one transaction).

        Raises
        ------
        nextbest.opstore.vault.LegalHoldError
            While a legal hold is active; nothing is changed.
        """
        ref = _reference(reference)
        now = utcnow()
        events = [
            ConsentEvent(
                customer_key, p.value, ALL_CHANNELS, ConsentStatus.WITHDRAWN.value, now, "dsr"
            )
            for p in ConsentPurpose
        ]
        with self.store.session() as s:
            tombstone = self.vault.erase(customer_key, f"dsr {ref}", actor=actor, session=s)
            self.ledger.record(events, session=s)
            self.audit.record(
                "dsr.erase", "customer", customer_key, {"reference": ref}, actor=actor, session=s
            )
        self.audit.anchor()
        return tombstone

    def place_legal_hold(self, customer_key: str, reason: str, *, actor: str) -> None:
        self.vault.place_legal_hold(customer_key, _reference(reason), actor=actor)
        self.audit.anchor()

    def release_legal_hold(self, customer_key: str, *, actor: str) -> int:
        released = self.vault.release_legal_hold(customer_key, actor=actor)
        self.audit.anchor()
        return released
