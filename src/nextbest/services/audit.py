"""Audit service: write entries with the change they record, anchor the head, verify.

The chained log itself is :class:`nextbest.opstore.audit.AuditTrail`. This service adds the
*anchor*: after every committed unit of work the current chain head (sequence number and
MAC) is appended to a file outside the database (``$NEXTBEST_HOME/audit/anchor.log``,
append-only, fsync'd). Someone who can rewrite the database but not that file cannot hide
a truncated log, a deleted head row, or a log recomputed wholesale, because the anchored
MACs no longer appear in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nextbest.errors import NextbestError
from nextbest.opstore.audit import AuditEntry, AuditTrail
from nextbest.opstore.models import AuditHead, AuditLog
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction
from nextbest.privacy.keys import KeyRing

__all__ = [
    "AuditFilter",
    "AuditService",
    "AuditTamperedError",
    "AuditVerification",
    "anchor_path",
]

_MAX_LIMIT = 1_000


class AuditTamperedError(NextbestError):
    """Verification found problems (each is printed before this error)."""

    exit_code = 1


def anchor_path(home: Path) -> Path:
    """Where an installation anchors its audit chain head."""
    return home / "audit" / "anchor.log"


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    subject_id: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """``ok`` only when neither the chain nor the anchor shows a problem."""

    entries: int
    anchors: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditService:
    """Record, list, anchor and verify audit entries.

    Parameters
    ----------
    store, keyring:
        The operational store and the key ring (its audit key MACs the chain).
    anchor_file:
        Append-only file receiving the chain head; ``None`` disables anchoring (tests of
        the chain alone).
    """

    def __init__(
        self, store: OperationalStore, keyring: KeyRing, anchor_file: Path | None = None
    ) -> None:
        self.store = store
        self.trail = AuditTrail(store, keyring)
        self.anchor_file = anchor_file

    def record(
        self,
        action: str,
        subject_type: str,
        subject_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        *,
        actor: str,
        session: Session | None = None,
    ) -> AuditEntry:
        """Append an entry; pass the session of the change so both commit or neither."""
        entry = self.trail.append(
            action, subject_type, subject_id, detail, actor=actor, session=session
        )
        if session is None:
            self.anchor()
        return entry

    def anchor(self) -> int | None:
        """Append the current head to the anchor file (if it moved); return its seq."""
        if self.anchor_file is None:
            return None
        with self.store.session(readonly=True) as s:
            head = s.get(AuditHead, 1)
            if head is None or head.last_seq == 0:
                return None
            seq, mac = head.last_seq, head.last_mac
        last = self._last_anchor()
        if last is not None and last[0] >= seq:
            return last[0]
        self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"seq": seq, "mac": mac}) + "\n"
        fd = os.open(self.anchor_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return seq

    def _anchors(self) -> list[tuple[int, str]]:
        if self.anchor_file is None or not self.anchor_file.exists():
            return []
        found = []
        lines = self.anchor_file.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line)
                found.append((int(item["seq"]), str(item["mac"])))
            except (ValueError, KeyError, TypeError):
                # a torn last line (crash while writing) is ignored, not fatal
                if number != len(lines):
                    found.append((-number, "unreadable"))
        return found

    def _last_anchor(self) -> tuple[int, str] | None:
        anchors = [a for a in self._anchors() if a[0] > 0]
        return max(anchors) if anchors else None

    def entries(
        self,
        where: AuditFilter = AuditFilter(),
        *,
        limit: int = 100,
        offset: int = 0,
        session: Session | None = None,
    ) -> list[AuditEntry]:
        """Newest first, filtered; ``limit`` is capped at 1,000."""
        query = select(AuditLog).order_by(AuditLog.seq.desc())
        if where.action:
            query = query.where(AuditLog.action == where.action)
        if where.actor:
            query = query.where(AuditLog.actor == where.actor)
        if where.subject_id:
            query = query.where(AuditLog.subject_id == where.subject_id)
        if where.since:
            query = query.where(AuditLog.occurred_at >= where.since)
        query = query.limit(min(max(limit, 1), _MAX_LIMIT)).offset(max(offset, 0))
        with in_transaction(self.store, session, readonly=True) as s:
            return [
                AuditEntry(
                    r.seq, r.occurred_at, r.actor, r.action, r.subject_type, r.subject_id, r.detail
                )
                for r in s.scalars(query)
            ]

    def verify(self) -> AuditVerification:
        """Check the chain and that every anchored head is still in the log, unchanged.

        Each problem names the entry: an edited entry fails its MAC, a deleted one leaves a
        gap, a reordered one breaks the link, a cut tail disagrees with the head row and
        the anchor, and a log recomputed with a stolen key still disagrees with the anchor.
        """
        chain = self.trail.verify_chain()
        problems = list(chain.problems)
        anchors = self._anchors()
        with self.store.session(readonly=True) as s:
            for seq, mac in anchors:
                if seq < 0:
                    problems.append(f"anchor line {-seq}: unreadable (anchor file edited?)")
                    continue
                stored = s.scalar(select(AuditLog.mac).where(AuditLog.seq == seq))
                if stored is None:
                    problems.append(
                        f"audit_log seq {seq}: anchored but missing (log truncated or replaced)"
                    )
                elif stored != mac:
                    problems.append(f"audit_log seq {seq}: differs from its anchor (log rewritten)")
        return AuditVerification(
            entries=chain.entries, anchors=len(anchors), problems=tuple(problems)
        )
