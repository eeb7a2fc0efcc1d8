"""The PII vault: encrypted direct identifiers, their data keys, erasures and legal holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from nextbest.opstore.models.base import Base, UtcDateTime

__all__ = ["LegalHold", "VaultEntry", "VaultKey", "VaultTombstone"]


class VaultKey(Base):
    """One customer's data key, wrapped by a master key version; deleting it shreds the data."""

    __tablename__ = "vault_key"

    customer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    master_version: Mapped[int] = mapped_column(Integer, index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VaultEntry(Base):
    """One version of a customer's direct identifiers, encrypted with their data key."""

    __tablename__ = "vault_entry"
    __table_args__ = (
        UniqueConstraint("customer_key", "batch_id"),
        CheckConstraint("state IN ('pending', 'committed')", name="state"),
        # lookups go only to the current committed version, so index just those columns
        Index("ix_vault_entry_mobile_current", "mobile_index", "is_current"),
        Index("ix_vault_entry_id_number_current", "id_number_index", "is_current"),
        Index("ix_vault_entry_email_current", "email_index", "is_current"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("vault_key.customer_key", ondelete="CASCADE"), index=True
    )
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    mobile_index: Mapped[str | None] = mapped_column(String(32))
    id_number_index: Mapped[str | None] = mapped_column(String(32))
    email_index: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    committed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class VaultTombstone(Base):
    """Proof that a customer's identifiers were crypto-shredded (no identifier kept)."""

    __tablename__ = "vault_tombstone"

    customer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)
    erased_by: Mapped[str] = mapped_column(String(100))


class LegalHold(Base):
    """A hold that forbids erasure (litigation, regulator request); active until released."""

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_key: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    placed_by: Mapped[str] = mapped_column(String(100))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String(100))
