"""ORM models of the operational store, one module per concept.

Importing this package registers every table on :data:`Base.metadata` (what Alembic and the
schema test compare against).
"""

from __future__ import annotations

from nextbest.opstore.models.audit import AuditHead, AuditLog
from nextbest.opstore.models.auth import ApiKey, LoginState, RefreshToken
from nextbest.opstore.models.base import Base, UtcDateTime, utcnow
from nextbest.opstore.models.batches import BATCH_STATUSES, IngestBatch
from nextbest.opstore.models.consents import ALL_CHANNELS, Consent
from nextbest.opstore.models.contacts import Contact
from nextbest.opstore.models.decisioning import ContactCounter, DecisionRecord, DoNotDisturb
from nextbest.opstore.models.inbox import InboxEvent
from nextbest.opstore.models.matches import MATCH_STATUSES, MatchCandidate
from nextbest.opstore.models.policies import PolicyVersion
from nextbest.opstore.models.users import AppUser, Role, user_role
from nextbest.opstore.models.vault import LegalHold, VaultEntry, VaultKey, VaultTombstone

__all__ = [
    "ALL_CHANNELS",
    "BATCH_STATUSES",
    "MATCH_STATUSES",
    "ApiKey",
    "AppUser",
    "AuditHead",
    "AuditLog",
    "Base",
    "Consent",
    "Contact",
    "ContactCounter",
    "DecisionRecord",
    "DoNotDisturb",
    "InboxEvent",
    "IngestBatch",
    "LegalHold",
    "LoginState",
    "MatchCandidate",
    "PolicyVersion",
    "RefreshToken",
    "Role",
    "UtcDateTime",
    "VaultEntry",
    "VaultKey",
    "VaultTombstone",
    "user_role",
    "utcnow",
]
