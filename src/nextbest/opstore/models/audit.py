"""Append-only audit log, chained by HMAC; the head row anchors the end of the chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["AuditHead", "AuditLog"]


class AuditLog(Base):
    __tablename__ = "audit_log"

    # seq is assigned by the writer (head + 1), never by a sequence, so it has no gaps
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Single row: the last sequence number and MAC, itself MAC'd (catches a cut tail)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_mac: Mapped[str] = mapped_column(String(64))
    head_mac: Mapped[str] = mapped_column(String(64))
