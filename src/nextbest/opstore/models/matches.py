"""Possible duplicate customers found on ingestion, waiting for a person to decide."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["MATCH_STATUSES", "MatchCandidate"]

MATCH_STATUSES = ("open", "merged", "dismissed")


class MatchCandidate(Base):
    __tablename__ = "match_candidate"
    __table_args__ = (
        UniqueConstraint(
            "batch_id",
            "incoming_customer_key",
            "existing_customer_key",
            "matched_on",
            name="uq_match_candidate_pair",
        ),
        CheckConstraint("status IN ('open', 'merged', 'dismissed')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    incoming_customer_key: Mapped[str] = mapped_column(String(64), index=True)
    existing_customer_key: Mapped[str] = mapped_column(String(64), index=True)
    matched_on: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
