"""Minimal contact history: record contacts, count them for frequency caps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from nextbest.opstore.models import Contact
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = ["ContactHistory", "ContactRecord"]

_CHUNK = 900


@dataclass(frozen=True, slots=True)
class ContactRecord:
    customer_key: str
    channel: str
    contacted_at: datetime
    campaign_id: str | None = None
    offer_id: str | None = None
    decision_id: str | None = None
    outcome: str | None = None


class ContactHistory:
    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def record_many(
        self, contacts: Sequence[ContactRecord], *, session: Session | None = None
    ) -> int:
        if not contacts:
            return 0
        rows = [
            {
                "customer_key": c.customer_key,
                "channel": c.channel,
                "contacted_at": c.contacted_at,
                "campaign_id": c.campaign_id,
                "offer_id": c.offer_id,
                "decision_id": c.decision_id,
                "outcome": c.outcome,
            }
            for c in contacts
        ]
        with in_transaction(self.store, session) as s:
            s.execute(insert(Contact), rows)
        return len(rows)

    def counts_since(
        self,
        customer_keys: Iterable[str],
        since: datetime,
        *,
        channel: str | None = None,
        session: Session | None = None,
    ) -> dict[str, int]:
        """Contacts per customer at or after ``since`` (customers without any are left out)."""
        keys = list(dict.fromkeys(customer_keys))
        counts: dict[str, int] = {}
        with in_transaction(self.store, session, readonly=True) as s:
            for start in range(0, len(keys), _CHUNK):
                query = (
                    select(Contact.customer_key, func.count())
                    .where(
                        Contact.customer_key.in_(keys[start : start + _CHUNK]),
                        Contact.contacted_at >= since,
                    )
                    .group_by(Contact.customer_key)
                )
                if channel is not None:
                    query = query.where(Contact.channel == channel)
                counts.update({k: int(n) for k, n in s.execute(query)})
        return counts
