"""Operational store: transactional records nextbest is the system of record for.

Batch lineage, the PII vault, consents, match candidates, contacts, the inbox, policies,
users and the audit log, in SQLite or PostgreSQL (SQLAlchemy 2 + Alembic).
"""

from __future__ import annotations

from nextbest.opstore.store import OperationalStore, OperationalStoreError, open_opstore

__all__ = ["OperationalStore", "OperationalStoreError", "open_opstore"]
