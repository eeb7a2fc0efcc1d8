"""Everything a request needs, opened once per process (stores, keys, services)."""

from __future__ import annotations

from dataclasses import dataclass, field

from nextbest.config import Settings
from nextbest.opstore.batches import BatchLedger
from nextbest.opstore.inbox import Inbox
from nextbest.opstore.policies import PolicyStore
from nextbest.opstore.store import OperationalStore, open_opstore
from nextbest.privacy.keys import KeyRing
from nextbest.security.principal_cache import PrincipalCache
from nextbest.services.audit import AuditService, anchor_path
from nextbest.services.consents import ConsentService
from nextbest.services.customers import CustomerService, PublishedCustomers
from nextbest.services.decision_access import DecisionAccess
from nextbest.services.events import EventIntake
from nextbest.services.insights import InsightService
from nextbest.services.policy_admin import PolicyAdmin
from nextbest.services.privacy_requests import DataSubjectRequests
from nextbest.services.users import UserService

__all__ = ["ApiContext"]


@dataclass
class ApiContext:
    settings: Settings
    store: OperationalStore
    keyring: KeyRing
    audit: AuditService
    users: UserService
    published: PublishedCustomers
    customers: CustomerService
    consents: ConsentService
    requests: DataSubjectRequests
    inbox: Inbox
    batches: BatchLedger
    policies: PolicyStore
    decisions: DecisionAccess
    events: EventIntake
    policy_admin: PolicyAdmin
    insights: InsightService
    # callers by credential for a second: roles are not read from the store per request
    principals: PrincipalCache = field(default_factory=PrincipalCache)

    @classmethod
    def open(cls, settings: Settings) -> ApiContext:
        keyring = KeyRing.load(settings)
        store = open_opstore(settings)
        audit = AuditService(store, keyring, anchor_path(settings.home))
        published = PublishedCustomers(settings)
        return cls(
            settings=settings,
            store=store,
            keyring=keyring,
            audit=audit,
            users=UserService(store, keyring, audit),
            published=published,
            customers=CustomerService(published, store, keyring, audit),
            consents=ConsentService(store, audit),
            requests=DataSubjectRequests(store, keyring, audit, published),
            inbox=Inbox(store),
            batches=BatchLedger(store),
            policies=PolicyStore(store),
            decisions=DecisionAccess(settings, store),
            events=EventIntake(store, audit),
            policy_admin=PolicyAdmin(store, audit),
            insights=InsightService(settings, published),
        )

    def close(self) -> None:
        self.published.close()
        self.store.dispose()
