"""Minimal inbox: events wait here until the next ingestion batch takes them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nextbest.opstore.models import InboxEvent, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = ["Inbox", "InboxRecord"]


@dataclass(frozen=True, slots=True)
class InboxRecord:
    id: int
    event_type: str
    customer_key: str | None
    payload: Mapping[str, Any]
    source: str
    received_at: datetime


class Inbox:
    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def put(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        source: str,
        customer_key: str | None = None,
        session: Session | None = None,
    ) -> int:
        with in_transaction(self.store, session) as s:
            row = InboxEvent(
                event_type=event_type,
                customer_key=customer_key,
                payload=dict(payload),
                source=source,
                received_at=utcnow(),
            )
            s.add(row)
            s.flush()
            return row.id

    def waiting(self, *, limit: int = 10_000, session: Session | None = None) -> list[InboxRecord]:
        """Events no batch has taken yet, oldest first."""
        with in_transaction(self.store, session, readonly=True) as s:
            rows = s.scalars(
                select(InboxEvent)
                .where(InboxEvent.processed_batch_id.is_(None))
                .order_by(InboxEvent.id)
                .limit(limit)
            )
            return [
                InboxRecord(r.id, r.event_type, r.customer_key, r.payload, r.source, r.received_at)
                for r in rows
            ]

    def mark_processed(
        self, ids: Sequence[int], batch_id: str, *, session: Session | None = None
    ) -> int:
        with in_transaction(self.store, session) as s:
            result = s.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(list(ids)), InboxEvent.processed_batch_id.is_(None))
                .values(processed_batch_id=batch_id)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
