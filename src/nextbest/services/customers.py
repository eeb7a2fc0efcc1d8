"""Customer search and profiles for people, masked by role.

Profiles are read from the latest *published* warehouse copy (serving processes never open
the live warehouse). What a caller sees depends on their permissions, field by field, as
the data model classifies it (``nextbest.domain.schema``):

* direct identifiers (name, ID number, mobile, e-mail) are shown masked (张*三,
  138****1234, 110***********1234, z*******@example.com); the clear values come from the
  vault only with ``customer:unmask`` *and* a stated purpose, and that view is audited;
* sensitive fields (income and other financial data) are withheld (``null``, listed in
  ``withheld``) without ``customer:read_sensitive``;
* quasi-identifiers and non-personal fields are shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

from nextbest.config import Settings
from nextbest.domain.enums import PiiClass
from nextbest.domain.schema import VAULT_FIELDS, table
from nextbest.errors import NextbestError
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.vault import PiiVault, VaultError
from nextbest.privacy.keys import KeyRing
from nextbest.security.errors import AccessDeniedError
from nextbest.security.permissions import Permission, Principal
from nextbest.security.unmask import UnmaskRequest
from nextbest.services.audit import AuditService
from nextbest.warehouse import Warehouse, latest_published, open_published

__all__ = [
    "CustomerFilter",
    "CustomerNotFoundError",
    "CustomerPage",
    "CustomerService",
    "CustomerView",
    "NotPublishedError",
    "PublishedCustomers",
    "json_scalar",
    "present",
]

_CUSTOMER = table("customer")
_MASKED = {f"{name}_masked": name for name in VAULT_FIELDS}
_CLASS = {c.name: c.pii for c in _CUSTOMER.warehouse_columns}
_SENSITIVE = frozenset(n for n, k in _CLASS.items() if k == PiiClass.SENSITIVE)
SUMMARY_FIELDS = ("province", "city", "home_branch", "onboarding_date")
FILTER_FIELDS = ("province", "city", "home_branch", "gender", "occupation", "source_system")
Scalar = str | int | float | bool | None
T = TypeVar("T")


class CustomerNotFoundError(NextbestError):
    """No customer with this key in the published data."""


class NotPublishedError(NextbestError):
    """Nothing has been published yet, so there is nothing to serve."""


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """Equality filters on warehouse columns, or a lookup by identifier via the vault."""

    equals: Mapping[str, str] = field(default_factory=dict)
    identifier_kind: Literal["mobile", "id_number"] | None = None
    identifier: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerView:
    customer_key: str
    identifiers: dict[str, str | None]
    identifiers_masked: bool
    attributes: dict[str, Scalar]
    withheld: tuple[str, ...]
    erased: bool = False


@dataclass(frozen=True, slots=True)
class CustomerPage:
    items: list[CustomerView]
    total: int
    limit: int
    offset: int


def json_scalar(value: Any) -> Scalar:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value  # type: ignore[no-any-return]


def present(
    row: Mapping[str, Any],
    principal: Principal,
    *,
    revealed: Mapping[str, str | None] | None = None,
    erased: bool = False,
    fields: tuple[str, ...] | None = None,
) -> CustomerView:
    """The caller's view of one warehouse row (pure: no I/O).

    Parameters
    ----------
    row:
        Warehouse columns of the customer (masked identifiers in ``<field>_masked``).
    principal:
        The caller; decides what is withheld.
    revealed:
        Clear identifiers from the vault, only when an audited unmask was granted.
    erased:
        The customer was erased: identifiers are gone, even masked.
    fields:
        Restrict the attributes (summaries); default all non-identifier columns.
    """
    sensitive_ok = principal.can(Permission.CUSTOMER_READ_SENSITIVE)
    attributes: dict[str, Scalar] = {}
    withheld: list[str] = []
    for name, value in row.items():
        if name in _MASKED or name.startswith("_") or name == "customer_key":
            continue
        if fields is not None and name not in fields:
            continue
        if name in _SENSITIVE and not sensitive_ok:
            attributes[name] = None
            withheld.append(name)
        else:
            attributes[name] = json_scalar(value)
    if erased:
        identifiers: dict[str, str | None] = dict.fromkeys(VAULT_FIELDS)
    elif revealed is not None:
        identifiers = {name: revealed.get(name) for name in VAULT_FIELDS}
    else:
        identifiers = {name: row.get(f"{name}_masked") for name in VAULT_FIELDS}
    return CustomerView(
        customer_key=str(row["customer_key"]),
        identifiers=identifiers,
        identifiers_masked=revealed is None,
        attributes=attributes,
        withheld=tuple(withheld),
        erased=erased,
    )


class PublishedCustomers:
    """Reads customers from the latest published copy; reopens it when a newer one lands."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._warehouse: Warehouse | None = None

    def _current(self) -> Warehouse:
        path = latest_published(self.settings)
        if path is None:
            raise NotPublishedError("no published data yet; run `nextbest publish`")
        if path != self._path or self._warehouse is None:
            if self._warehouse is not None:
                self._warehouse.close()
            self._warehouse = open_published(self.settings)
            self._path = path
        return self._warehouse

    def read(self, fn: Callable[[Warehouse], T]) -> T:
        """Run ``fn`` on the current published copy (one caller at a time)."""
        with self._lock:
            return fn(self._current())

    def version(self) -> str | None:
        path = latest_published(self.settings)
        return None if path is None else path.name

    def query(
        self,
        equals: Mapping[str, str],
        keys: set[str] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            wh = self._current()
            t = wh.current("customer")
            for column, value in equals.items():
                t = t.filter(t[column] == value)
            if keys is not None:
                t = t.filter(t.customer_key.isin(sorted(keys)))
            total = int(wh.to_arrow(t.aggregate(n=t.count())).column("n")[0].as_py())
            page = t.order_by("customer_key").limit(limit, offset=offset)
            return wh.to_arrow(page).to_pylist(), total

    def close(self) -> None:
        with self._lock:
            if self._warehouse is not None:
                self._warehouse.close()
                self._warehouse = None
                self._path = None


class CustomerService:
    """Search and profiles.

    Parameters
    ----------
    published:
        Reader of the published warehouse copy.
    store, keyring:
        Operational store and key ring (vault look-ups and reveals).
    audit:
        Records identifier searches and unmasked views.
    """

    def __init__(
        self,
        published: PublishedCustomers,
        store: OperationalStore,
        keyring: KeyRing,
        audit: AuditService,
    ) -> None:
        self.published = published
        self.vault = PiiVault(store, keyring)
        self.store = store
        self.audit = audit

    def search(
        self, where: CustomerFilter, principal: Principal, *, limit: int = 50, offset: int = 0
    ) -> CustomerPage:
        unknown = sorted(set(where.equals) - set(FILTER_FIELDS))
        if unknown:
            raise NextbestError(f"{unknown[0]}: cannot filter on it; use one of {FILTER_FIELDS}")
        keys: set[str] | None = None
        if where.identifier_kind and where.identifier:
            keys = self.vault.find_by(where.identifier_kind, where.identifier)
            # A look-up by identifier is a use of personal data even if the answer is masked.
            self.audit.record(
                "customer.search_by_identifier",
                "customer",
                None,
                {"kind": where.identifier_kind, "matches": len(keys)},
                actor=principal.subject,
            )
        rows, total = self.published.query(where.equals, keys, limit, offset)
        erased = self.vault.tombstoned(r["customer_key"] for r in rows)
        items = [
            present(r, principal, erased=r["customer_key"] in erased, fields=SUMMARY_FIELDS)
            for r in rows
        ]
        return CustomerPage(items, total, limit, offset)

    def profile(
        self,
        customer_key: str,
        principal: Principal,
        unmask: UnmaskRequest | None = None,
    ) -> CustomerView:
        """One customer's view; ``unmask`` asks for clear identifiers (audited)."""
        rows, _ = self.published.query({}, {customer_key}, 1, 0)
        if not rows:
            raise CustomerNotFoundError(f"customer_key: no customer {customer_key!r}")
        erased = bool(self.vault.tombstoned([customer_key]))
        if unmask is None or erased:
            return present(rows[0], principal, erased=erased)
        if not principal.can(Permission.CUSTOMER_UNMASK):
            raise AccessDeniedError(
                f"permission {Permission.CUSTOMER_UNMASK.value} is required to unmask"
            )
        with self.store.session() as s:
            try:
                record = self.vault.reveal(
                    customer_key, actor=principal.subject, purpose=unmask.purpose.value, session=s
                )
            except VaultError as exc:
                raise CustomerNotFoundError(f"customer_key: {exc}") from None
            self.audit.record(
                "customer.unmask",
                "customer",
                customer_key,
                {"purpose": unmask.purpose.value, "justification": unmask.justification},
                actor=principal.subject,
                session=s,
            )
        self.audit.anchor()
        revealed = {name: getattr(record, name) for name in VAULT_FIELDS}
        return present(rows[0], principal, revealed=revealed)
