"""The batch ledger: lineage and state of every ingestion batch.

A batch is ``started`` when ingestion begins, then ends ``committed`` (its rows are in the
warehouse and vault), ``failed`` (nothing of it is visible) or ``discarded`` (cleaned up by
recovery). The checksum lets a re-run of identical input be recognised and skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from nextbest.errors import NextbestError
from nextbest.opstore.models import IngestBatch, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = ["BatchCounts", "BatchLedger", "BatchLedgerError", "BatchRecord", "BatchStatus"]

BatchStatus = Literal["started", "committed", "failed", "discarded"]

# Which status may follow which: a committed batch is history and never changes.
_ALLOWED: dict[str, frozenset[str]] = {
    "started": frozenset({"committed", "failed", "discarded"}),
    "failed": frozenset({"discarded"}),
    "committed": frozenset(),
    "discarded": frozenset(),
}


class BatchLedgerError(NextbestError):
    """A batch id is unknown or reused, or a status change is not allowed."""


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """Row counts of a finished batch, with optional per-file detail."""

    rows_read: int = 0
    rows_loaded: int = 0
    rows_flagged: int = 0
    rows_rejected: int = 0
    rows_queued: int = 0
    files: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One row of the ledger."""

    batch_id: str
    source: str
    mapping: str
    checksum: str
    status: BatchStatus
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    rows_loaded: int
    rows_flagged: int
    rows_rejected: int
    rows_queued: int
    files: Mapping[str, Any]
    message: str | None

    @classmethod
    def from_row(cls, row: IngestBatch) -> BatchRecord:
        return cls(
            batch_id=row.batch_id,
            source=row.source,
            mapping=row.mapping,
            checksum=row.checksum,
            status=row.status,  # type: ignore[arg-type]
            started_at=row.started_at,
            finished_at=row.finished_at,
            rows_read=row.rows_read,
            rows_loaded=row.rows_loaded,
            rows_flagged=row.rows_flagged,
            rows_rejected=row.rows_rejected,
            rows_queued=row.rows_queued,
            files=dict(row.files or {}),
            message=row.message,
        )


def _counts(counts: BatchCounts | Mapping[str, Any]) -> BatchCounts:
    if isinstance(counts, BatchCounts):
        return counts
    unknown = set(counts) - set(BatchCounts.__dataclass_fields__)
    if unknown:
        raise BatchLedgerError(f"unknown batch count field(s): {', '.join(sorted(unknown))}")
    return BatchCounts(**counts)


class BatchLedger:
    """Records batches in ``ingest_batch``.

    Every method takes an optional ``session`` to join the caller's transaction; without
    one it runs its own.
    """

    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def start(
        self,
        batch_id: str,
        source: str,
        mapping: str,
        checksum: str,
        *,
        session: Session | None = None,
    ) -> BatchRecord:
        """Register a new batch as ``started``; a reused ``batch_id`` is an error."""
        with in_transaction(self.store, session) as s:
            if s.get(IngestBatch, batch_id) is not None:
                raise BatchLedgerError(f"batch {batch_id} already exists in the ledger")
            row = IngestBatch(
                batch_id=batch_id,
                source=source,
                mapping=mapping,
                checksum=checksum,
                status="started",
                started_at=utcnow(),
                rows_read=0,
                rows_loaded=0,
                rows_flagged=0,
                rows_rejected=0,
                rows_queued=0,
                files={},
            )
            s.add(row)
            s.flush()
            return BatchRecord.from_row(row)

    def get(self, batch_id: str, *, session: Session | None = None) -> BatchRecord | None:
        with in_transaction(self.store, session, readonly=True) as s:
            row = s.get(IngestBatch, batch_id)
            return None if row is None else BatchRecord.from_row(row)

    def committed_with_checksum(
        self, checksum: str, *, session: Session | None = None
    ) -> BatchRecord | None:
        """The latest committed batch whose input had this checksum, if any."""
        with in_transaction(self.store, session, readonly=True) as s:
            row = s.scalars(
                select(IngestBatch)
                .where(IngestBatch.checksum == checksum, IngestBatch.status == "committed")
                .order_by(IngestBatch.started_at.desc())
                .limit(1)
            ).first()
            return None if row is None else BatchRecord.from_row(row)

    def finish(
        self,
        batch_id: str,
        counts: BatchCounts | Mapping[str, Any],
        *,
        status: BatchStatus = "committed",
        message: str | None = None,
        session: Session | None = None,
    ) -> BatchRecord:
        """Store the counts and end the batch (``committed`` unless told otherwise)."""
        values = _counts(counts)
        with in_transaction(self.store, session) as s:
            row = self._transition(s, batch_id, status)
            row.rows_read = values.rows_read
            row.rows_loaded = values.rows_loaded
            row.rows_flagged = values.rows_flagged
            row.rows_rejected = values.rows_rejected
            row.rows_queued = values.rows_queued
            row.files = dict(values.files)
            row.message = message
            s.flush()
            return BatchRecord.from_row(row)

    def mark(
        self,
        batch_id: str,
        status: BatchStatus,
        *,
        message: str | None = None,
        session: Session | None = None,
    ) -> BatchRecord:
        """Change the status only (e.g. ``failed`` with the reason, ``discarded`` on recovery)."""
        with in_transaction(self.store, session) as s:
            row = self._transition(s, batch_id, status)
            if message is not None:
                row.message = message
            s.flush()
            return BatchRecord.from_row(row)

    def unfinished(self, *, session: Session | None = None) -> list[BatchRecord]:
        """Batches still ``started`` (interrupted runs that recovery must clean up)."""
        with in_transaction(self.store, session, readonly=True) as s:
            rows = s.scalars(
                select(IngestBatch)
                .where(IngestBatch.status == "started")
                .order_by(IngestBatch.started_at)
            )
            return [BatchRecord.from_row(r) for r in rows]

    def recent(self, n: int = 10, *, session: Session | None = None) -> list[BatchRecord]:
        """The ``n`` most recently started batches, newest first."""
        with in_transaction(self.store, session, readonly=True) as s:
            rows = s.scalars(
                select(IngestBatch)
                .order_by(IngestBatch.started_at.desc(), IngestBatch.batch_id.desc())
                .limit(n)
            )
            return [BatchRecord.from_row(r) for r in rows]

    @staticmethod
    def _transition(session: Session, batch_id: str, status: str) -> IngestBatch:
        if status not in _ALLOWED:
            raise BatchLedgerError(
                f"batch {batch_id}: unknown status {status!r}; expected one of {sorted(_ALLOWED)}"
            )
        row = session.get(IngestBatch, batch_id, with_for_update=True)
        if row is None:
            raise BatchLedgerError(f"batch {batch_id} is not in the ledger")
        if status not in _ALLOWED[row.status]:
            raise BatchLedgerError(
                f"batch {batch_id}: cannot change status from {row.status} to {status}"
            )
        row.status = status
        if status != "started":
            row.finished_at = utcnow()
        return row
