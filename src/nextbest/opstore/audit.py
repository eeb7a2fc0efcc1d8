"""Append-only audit log whose entries are chained by HMAC with the audit key.

``mac[n] = HMAC(audit_key, canonical(entry n) | mac[n-1])``. Because the audit key lives
outside the database, someone with write access to the database alone can neither edit an
entry nor remove one from the middle without breaking the chain; the ``audit_head`` row
(also MAC'd) pins the last entry, so cutting off the tail is caught too.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nextbest.opstore.models import AuditHead, AuditLog, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction
from nextbest.privacy.keys import KeyRing

__all__ = ["AuditEntry", "AuditTrail", "ChainVerification"]

GENESIS = "genesis"
_HEAD_ID = 1


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    occurred_at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChainVerification:
    """Result of :meth:`AuditTrail.verify_chain`; ``ok`` only when ``problems`` is empty."""

    entries: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def _canonical(
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | None,
    detail: Mapping[str, Any],
) -> bytes:
    payload = [
        seq,
        occurred_at.isoformat(timespec="microseconds"),
        actor,
        action,
        subject_type,
        subject_id,
        detail,
    ]
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


class AuditTrail:
    """Writes and verifies the chained audit log.

    Parameters
    ----------
    store:
        The operational store.
    keyring:
        Supplies the audit key.
    """

    def __init__(self, store: OperationalStore, keyring: KeyRing) -> None:
        self.store = store
        self._key = keyring.audit_key

    def _mac(self, canonical: bytes, prev_mac: str) -> str:
        return hmac.new(self._key, canonical + b"|" + prev_mac.encode(), "sha256").hexdigest()

    def _head_mac(self, last_seq: int, last_mac: str) -> str:
        return hmac.new(self._key, f"head|{last_seq}|{last_mac}".encode(), "sha256").hexdigest()

    def _locked_head(self, session: Session) -> AuditHead:
        dialect = session.get_bind().dialect.name
        values = {
            "id": _HEAD_ID,
            "last_seq": 0,
            "last_mac": GENESIS,
            "head_mac": self._head_mac(0, GENESIS),
        }
        # Insert-if-absent, so two first writers cannot both create the head.
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(AuditHead).values(**values).on_conflict_do_nothing())
        head = session.get(AuditHead, _HEAD_ID, with_for_update=True, populate_existing=True)
        assert head is not None
        return head

    def append(
        self,
        action: str,
        subject_type: str,
        subject_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        *,
        actor: str = "system",
        session: Session | None = None,
    ) -> AuditEntry:
        """Append one entry (inside ``session`` if given, so it commits with the change)."""
        detail = dict(detail or {})
        with in_transaction(self.store, session) as s:
            head = self._locked_head(s)
            seq = head.last_seq + 1
            occurred_at = utcnow()
            canonical = _canonical(
                seq, occurred_at, actor, action, subject_type, subject_id, detail
            )
            mac = self._mac(canonical, head.last_mac)
            s.add(
                AuditLog(
                    seq=seq,
                    occurred_at=occurred_at,
                    actor=actor,
                    action=action,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    detail=detail,
                    prev_mac=head.last_mac,
                    mac=mac,
                )
            )
            head.last_seq = seq
            head.last_mac = mac
            head.head_mac = self._head_mac(seq, mac)
            s.flush()
        return AuditEntry(seq, occurred_at, actor, action, subject_type, subject_id, detail)

    def entries(
        self,
        *,
        subject_id: str | None = None,
        action: str | None = None,
        limit: int = 100,
        session: Session | None = None,
    ) -> list[AuditEntry]:
        """Newest entries first, optionally filtered by subject or action."""
        query = select(AuditLog).order_by(AuditLog.seq.desc()).limit(limit)
        if subject_id is not None:
            query = query.where(AuditLog.subject_id == subject_id)
        if action is not None:
            query = query.where(AuditLog.action == action)
        with in_transaction(self.store, session, readonly=True) as s:
            return [
                AuditEntry(
                    r.seq, r.occurred_at, r.actor, r.action, r.subject_type, r.subject_id, r.detail
                )
                for r in s.scalars(query)
            ]

    def verify_chain(self, *, session: Session | None = None) -> ChainVerification:
        """Recompute every MAC; report each broken link, gap, or mismatch with the head."""
        problems: list[str] = []
        expected_seq = 1
        prev_mac = GENESIS
        count = 0
        with in_transaction(self.store, session, readonly=True) as s:
            rows = s.execute(select(AuditLog).order_by(AuditLog.seq)).scalars()
            for row in rows:
                count += 1
                if row.seq != expected_seq:
                    problems.append(f"audit_log: entries {expected_seq}..{row.seq - 1} are missing")
                if row.prev_mac != prev_mac:
                    problems.append(f"audit_log seq {row.seq}: does not link to the entry before")
                canonical = _canonical(
                    row.seq,
                    row.occurred_at,
                    row.actor,
                    row.action,
                    row.subject_type,
                    row.subject_id,
                    row.detail or {},
                )
                if not hmac.compare_digest(self._mac(canonical, row.prev_mac), row.mac):
                    problems.append(f"audit_log seq {row.seq}: content was altered (MAC mismatch)")
                expected_seq = row.seq + 1
                prev_mac = row.mac
            head = s.get(AuditHead, _HEAD_ID)
            last_seq = expected_seq - 1
            if head is None:
                if count:
                    problems.append("audit_head: missing although the log has entries")
            else:
                if not hmac.compare_digest(
                    self._head_mac(head.last_seq, head.last_mac), head.head_mac
                ):
                    problems.append("audit_head: was altered (MAC mismatch)")
                if head.last_seq != last_seq or head.last_mac != prev_mac:
                    problems.append(
                        f"audit_head: points at entry {head.last_seq} but the log ends at "
                        f"{last_seq} (entries removed from the end?)"
                    )
        return ChainVerification(entries=count, problems=tuple(problems))
