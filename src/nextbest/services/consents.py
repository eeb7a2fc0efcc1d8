"""Consents through the API: read the current state, record grants and withdrawals.

A withdrawal is effective immediately: it is written with the current time, and the ledger
lets a withdrawal win over a grant with the same time.
"""

from __future__ import annotations

from datetime import datetime

from nextbest.opstore.consents import ConsentError, ConsentEvent, ConsentLedger, ConsentState
from nextbest.opstore.models import utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.services.audit import AuditService
from nextbest.services.crash_points import crash_point

__all__ = ["ConsentService"]


class ConsentService:
    def __init__(self, store: OperationalStore, audit: AuditService) -> None:
        self.store = store
        self.ledger = ConsentLedger(store)
        self.audit = audit

    def current(self, customer_key: str) -> list[ConsentState]:
        return self.ledger.current(customer_key)

    def record(
        self,
        customer_key: str,
        purpose: str,
        channel: str,
        status: str,
        *,
        actor: str,
        source: str = "api",
        event_time: datetime | None = None,
    ) -> ConsentState:
        """Store one event and its audit entry in one transaction; return the new state.

        ``event_time`` defaults to now; a time in the future is refused (it would shadow
        later events).
        """
        when = event_time or utcnow()
        if when > utcnow():
            raise ConsentError("event_time: lies in the future")
        event = ConsentEvent(customer_key, purpose, channel, status, when, source)
        with self.store.session() as s:
            self.ledger.record([event], session=s)
            self.audit.record(
                f"consent.{status}",
                "customer",
                customer_key,
                {"purpose": purpose, "channel": channel, "source": source},
                actor=actor,
                session=s,
            )
            crash_point("consent.record.audit_written")
            state = self.ledger.state(customer_key, purpose, channel, session=s)
        self.audit.anchor()
        assert state is not None
        return state
