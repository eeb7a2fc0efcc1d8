"""Consent ledger: events in, current state per customer × purpose × channel out.

The state of a (purpose, channel) is the latest event by ``event_time``. When a grant and a
withdrawal carry the same time, the withdrawal wins: when in doubt, do not contact. An event
for channel ``all`` applies to every channel of its purpose, so the effective state of a
channel is the latest of its own events and the purpose's ``all`` events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from nextbest.domain.enums import ConsentPurpose, ConsentStatus, ContactChannel
from nextbest.errors import NextbestError
from nextbest.opstore.models import ALL_CHANNELS, Consent, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = ["ConsentError", "ConsentEvent", "ConsentLedger", "ConsentState"]

_PURPOSES = frozenset(p.value for p in ConsentPurpose)
_CHANNELS = frozenset(c.value for c in ContactChannel) | {ALL_CHANNELS}
_STATUSES = frozenset(s.value for s in ConsentStatus)
_CHUNK = 900


class ConsentError(NextbestError):
    """A consent event names an unknown purpose, channel or status, or a naive time."""


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One grant or withdrawal, as received from a source system or the API."""

    customer_key: str
    purpose: str
    channel: str
    status: str
    event_time: datetime
    source: str

    def check(self, position: int) -> None:
        where = f"consent event {position} (customer {self.customer_key})"
        if self.purpose not in _PURPOSES:
            raise ConsentError(f"{where}: unknown purpose {self.purpose!r}")
        if self.channel not in _CHANNELS:
            raise ConsentError(f"{where}: unknown channel {self.channel!r}")
        if self.status not in _STATUSES:
            raise ConsentError(f"{where}: unknown status {self.status!r}")
        if self.event_time.tzinfo is None:
            raise ConsentError(f"{where}: event_time has no time zone")


@dataclass(frozen=True, slots=True)
class ConsentState:
    customer_key: str
    purpose: str
    channel: str
    status: str
    event_time: datetime
    source: str

    @property
    def granted(self) -> bool:
        return self.status == ConsentStatus.GRANTED.value


def _latest_first() -> tuple[object, ...]:
    withdrawn_first = case((Consent.status == ConsentStatus.WITHDRAWN.value, 0), else_=1)
    return (Consent.event_time.desc(), withdrawn_first, Consent.id.desc())


class ConsentLedger:
    """Records consent events and answers "may we contact?" questions."""

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def record(
        self,
        events: Sequence[ConsentEvent],
        *,
        batch_id: str | None = None,
        session: Session | None = None,
    ) -> int:
        """Append events (bulk); return how many were stored."""
        for position, event in enumerate(events, start=1):
            event.check(position)
        if not events:
            return 0
        now = utcnow()
        rows = [
            {
                "customer_key": e.customer_key,
                "purpose": e.purpose,
                "channel": e.channel,
                "status": e.status,
                "event_time": e.event_time,
                "recorded_at": now,
                "source": e.source,
                "batch_id": batch_id,
            }
            for e in events
        ]
        with in_transaction(self.store, session) as s:
            s.execute(insert(Consent), rows)
        return len(rows)

    def current(self, customer_key: str, *, session: Session | None = None) -> list[ConsentState]:
        """The latest state of each (purpose, channel) the customer has events for."""
        ranked = (
            select(
                Consent,
                func.row_number()
                .over(partition_by=(Consent.purpose, Consent.channel), order_by=_latest_first())
                .label("rank"),
            )
            .where(Consent.customer_key == customer_key)
            .subquery()
        )
        with in_transaction(self.store, session, readonly=True) as s:
            rows = s.execute(
                select(ranked)
                .where(ranked.c.rank == 1)
                .order_by(ranked.c.purpose, ranked.c.channel)
            ).mappings()
            return [
                ConsentState(
                    r["customer_key"],
                    r["purpose"],
                    r["channel"],
                    r["status"],
                    r["event_time"],
                    r["source"],
                )
                for r in rows
            ]

    def state(
        self, customer_key: str, purpose: str, channel: str, *, session: Session | None = None
    ) -> ConsentState | None:
        """The effective state for one channel (its own events and the ``all`` events)."""
        with in_transaction(self.store, session, readonly=True) as s:
            row = s.scalars(
                select(Consent)
                .where(
                    Consent.customer_key == customer_key,
                    Consent.purpose == purpose,
                    Consent.channel.in_([channel, ALL_CHANNELS]),
                )
                .order_by(*_latest_first())
                .limit(1)
            ).first()
            if row is None:
                return None
            return ConsentState(
                row.customer_key, purpose, channel, row.status, row.event_time, row.source
            )

    def permitted(
        self,
        customer_keys: Iterable[str],
        purpose: str,
        channel: str,
        *,
        session: Session | None = None,
    ) -> set[str]:
        """Which customers have an effective grant for ``purpose`` on ``channel`` (bulk)."""
        keys = list(dict.fromkeys(customer_keys))
        granted: set[str] = set()
        with in_transaction(self.store, session, readonly=True) as s:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                ranked = (
                    select(
                        Consent.customer_key,
                        Consent.status,
                        func.row_number()
                        .over(partition_by=Consent.customer_key, order_by=_latest_first())
                        .label("rank"),
                    )
                    .where(
                        Consent.customer_key.in_(chunk),
                        Consent.purpose == purpose,
                        Consent.channel.in_([channel, ALL_CHANNELS]),
                    )
                    .subquery()
                )
                granted.update(
                    s.scalars(
                        select(ranked.c.customer_key).where(
                            ranked.c.rank == 1, ranked.c.status == ConsentStatus.GRANTED.value
                        )
                    )
                )
        return granted
