"""Consent events (system of record; the warehouse holds a read copy)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["ALL_CHANNELS", "Consent"]

ALL_CHANNELS = "all"  # a consent event for every channel of a purpose


class Consent(Base):
    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint("status IN ('granted', 'withdrawn')", name="status"),
        Index("ix_consent_lookup", "customer_key", "purpose", "channel", "event_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_key: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    event_time: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(100))
    batch_id: Mapped[str | None] = mapped_column(String(64), index=True)
