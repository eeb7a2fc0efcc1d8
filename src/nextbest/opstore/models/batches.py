"""Lineage of ingestion batches (system of record for what was loaded, when and how)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["BATCH_STATUSES", "IngestBatch"]

BATCH_STATUSES = ("started", "committed", "failed", "discarded")


class IngestBatch(Base):
    __tablename__ = "ingest_batch"
    __table_args__ = (
        CheckConstraint("status IN ('started', 'committed', 'failed', 'discarded')", name="status"),
    )

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    mapping: Mapped[str] = mapped_column(String(200))
    # sha256 over the source files and the mapping: equal checksum = same input
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_flagged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_queued: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)
