"""Decisioning records: every decision made, contact counters per period, do-not-disturb."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["ContactCounter", "DecisionRecord", "DoNotDisturb"]


class DecisionRecord(Base):
    """One decision (real time or batch sample), with what is needed to replay it."""

    __tablename__ = "decision_record"
    __table_args__ = (
        CheckConstraint("outcome IN ('accepted', 'rejected')", name="outcome"),
        Index("ix_decision_record_customer_time", "customer_key", "decided_at"),
        Index("ix_decision_record_customer_outcome", "customer_key", "outcome", "outcome_at"),
    )

    decision_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_key: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[str | None] = mapped_column(String(64))
    product_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[float | None] = mapped_column(Float)
    price: Mapped[float | None] = mapped_column(Float)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(64))
    catalogue_version: Mapped[str] = mapped_column(String(64))
    snapshot_version: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ContactCounter(Base):
    """Marketing contacts of one customer on one channel (or ``all``) in one period bucket."""

    __tablename__ = "contact_counter"
    __table_args__ = (CheckConstraint("count >= 0", name="count"),)

    customer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket_start: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class DoNotDisturb(Base):
    """Customers who asked not to be contacted for marketing."""

    __tablename__ = "do_not_disturb"

    customer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(100))
