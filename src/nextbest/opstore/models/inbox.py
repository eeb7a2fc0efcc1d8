"""Events received between batches (API, CRM), picked up by the next ingestion batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["InboxEvent"]


class InboxEvent(Base):
    __tablename__ = "inbox_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    customer_key: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # null while waiting; set to the batch that carried the event into the warehouse
    processed_batch_id: Mapped[str | None] = mapped_column(String(64), index=True)
