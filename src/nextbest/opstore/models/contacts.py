"""Contact history: every time the bank reached a customer (feeds contact-frequency rules)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["Contact"]


class Contact(Base):
    __tablename__ = "contact"
    __table_args__ = (Index("ix_contact_customer_time", "customer_key", "contacted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    contacted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    campaign_id: Mapped[str | None] = mapped_column(String(64), index=True)
    offer_id: Mapped[str | None] = mapped_column(String(64))
    decision_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
