"""Queue of possible duplicate customers for a person to merge or dismiss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nextbest.errors import NextbestError
from nextbest.opstore.models import MatchCandidate, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = ["MatchCandidateRecord", "MatchError", "MatchQueue", "MatchStatus", "NewMatch"]

MatchStatus = Literal["open", "merged", "dismissed"]


class MatchError(NextbestError):
    """Unknown candidate, or a candidate that was already resolved."""


@dataclass(frozen=True, slots=True)
class NewMatch:
    """A candidate as found by ingestion."""

    incoming_customer_key: str
    existing_customer_key: str
    matched_on: str
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class MatchCandidateRecord:
    id: int
    batch_id: str
    incoming_customer_key: str
    existing_customer_key: str
    matched_on: str
    score: float
    status: MatchStatus
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None

    @classmethod
    def from_row(cls, row: MatchCandidate) -> MatchCandidateRecord:
        return cls(
            row.id,
            row.batch_id,
            row.incoming_customer_key,
            row.existing_customer_key,
            row.matched_on,
            row.score,
            row.status,  # type: ignore[arg-type]
            row.created_at,
            row.resolved_at,
            row.resolved_by,
            row.note,
        )


class MatchQueue:
    """``match_candidate`` rows: add (idempotent per batch), list, resolve."""

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def add_many(
        self, batch_id: str, candidates: Sequence[NewMatch], *, session: Session | None = None
    ) -> int:
        """Queue candidates as ``open``; a candidate already queued for the batch is kept."""
        if not candidates:
            return 0
        now = utcnow()
        rows = [
            {
                "batch_id": batch_id,
                "incoming_customer_key": c.incoming_customer_key,
                "existing_customer_key": c.existing_customer_key,
                "matched_on": c.matched_on,
                "score": c.score,
                "status": "open",
                "created_at": now,
            }
            for c in candidates
        ]
        with in_transaction(self.store, session) as s:
            dialect = s.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            before = s.scalar(select(func.count()).select_from(MatchCandidate)) or 0
            s.execute(insert(MatchCandidate).on_conflict_do_nothing(), rows)
            after = s.scalar(select(func.count()).select_from(MatchCandidate)) or 0
            return int(after - before)

    def list(
        self,
        *,
        status: MatchStatus | None = "open",
        batch_id: str | None = None,
        limit: int = 100,
        session: Session | None = None,
    ) -> list[MatchCandidateRecord]:
        """Candidates, oldest first, filtered by status (``None`` = all) and batch."""
        query = select(MatchCandidate).order_by(MatchCandidate.id).limit(limit)
        if status is not None:
            query = query.where(MatchCandidate.status == status)
        if batch_id is not None:
            query = query.where(MatchCandidate.batch_id == batch_id)
        with in_transaction(self.store, session, readonly=True) as s:
            return [MatchCandidateRecord.from_row(r) for r in s.scalars(query)]

    def resolve(
        self,
        candidate_id: int,
        status: Literal["merged", "dismissed"],
        *,
        actor: str = "system",
        note: str | None = None,
        session: Session | None = None,
    ) -> MatchCandidateRecord:
        """Close an open candidate as ``merged`` or ``dismissed``."""
        if status not in ("merged", "dismissed"):
            raise MatchError(f"match candidate {candidate_id}: cannot resolve as {status!r}")
        with in_transaction(self.store, session) as s:
            row = s.get(MatchCandidate, candidate_id, with_for_update=True)
            if row is None:
                raise MatchError(f"match candidate {candidate_id} does not exist")
            if row.status != "open":
                raise MatchError(f"match candidate {candidate_id} is already {row.status}")
            row.status = status
            row.resolved_at = utcnow()
            row.resolved_by = actor
            row.note = note
            s.flush()
            return MatchCandidateRecord.from_row(row)
