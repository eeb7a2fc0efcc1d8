"""Minimal versioned policy store: publish a new version, read the active one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from nextbest.opstore.models import PolicyVersion, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = ["PolicyRecord", "PolicyStore"]


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    policy_name: str
    version: int
    body: Mapping[str, Any]
    checksum: str
    status: str
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: PolicyVersion) -> PolicyRecord:
        return cls(
            row.policy_name,
            row.version,
            row.body,
            row.checksum,
            row.status,
            row.created_at,
            row.created_by,
        )


class PolicyStore:
    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def publish(
        self,
        policy_name: str,
        body: Mapping[str, Any],
        *,
        actor: str = "system",
        session: Session | None = None,
    ) -> PolicyRecord:
        """Store ``body`` as the next version and make it the only active one."""
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        with in_transaction(self.store, session) as s:
            latest = s.scalar(
                select(func.max(PolicyVersion.version)).where(
                    PolicyVersion.policy_name == policy_name
                )
            )
            s.execute(
                update(PolicyVersion)
                .where(PolicyVersion.policy_name == policy_name, PolicyVersion.status == "active")
                .values(status="retired")
                .execution_options(synchronize_session=False)
            )
            row = PolicyVersion(
                policy_name=policy_name,
                version=(latest or 0) + 1,
                body=dict(body),
                checksum=hashlib.sha256(canonical).hexdigest(),
                status="active",
                created_at=utcnow(),
                created_by=actor,
            )
            s.add(row)
            s.flush()
            return PolicyRecord.from_row(row)

    def active(self, policy_name: str, *, session: Session | None = None) -> PolicyRecord | None:
        with in_transaction(self.store, session, readonly=True) as s:
            row = s.scalars(
                select(PolicyVersion).where(
                    PolicyVersion.policy_name == policy_name, PolicyVersion.status == "active"
                )
            ).first()
            return None if row is None else PolicyRecord.from_row(row)
