"""Publishing policy versions through the API: validated size, audited atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nextbest.errors import NextbestError
from nextbest.opstore.policies import PolicyRecord, PolicyStore
from nextbest.opstore.store import OperationalStore
from nextbest.services.audit import AuditService
from nextbest.services.crash_points import crash_point

__all__ = ["MAX_POLICY_BYTES", "PolicyAdmin", "PolicyNotFoundError", "PolicyTooLargeError"]

MAX_POLICY_BYTES = 65_536


class PolicyTooLargeError(NextbestError):
    """A policy body above :data:`MAX_POLICY_BYTES`."""


class PolicyNotFoundError(NextbestError):
    """No active version of the named policy."""


class PolicyAdmin:
    """Read the active version of a policy; publish the next one with its audit entry.

    Parameters
    ----------
    store, audit:
        The operational store holding ``policy_version``, and the audit service.
    """

    def __init__(self, store: OperationalStore, audit: AuditService) -> None:
        self.store = store
        self.policies = PolicyStore(store)
        self.audit = audit

    def active(self, policy_name: str) -> PolicyRecord:
        """Raises :class:`PolicyNotFoundError` when none is active."""
        record = self.policies.active(policy_name)
        if record is None:
            raise PolicyNotFoundError(f"policy_name: no active policy {policy_name!r}")
        return record

    def publish(self, policy_name: str, body: Mapping[str, Any], *, actor: str) -> PolicyRecord:
        """Store the next version; the version and its audit entry commit together.

        Raises
        ------
        PolicyTooLargeError
            When the JSON body exceeds :data:`MAX_POLICY_BYTES`.
        """
        size = len(json.dumps(body, ensure_ascii=False).encode())
        if size > MAX_POLICY_BYTES:
            raise PolicyTooLargeError(f"body: {size} bytes, at most {MAX_POLICY_BYTES}")
        with self.store.session() as s:
            record = self.policies.publish(policy_name, body, actor=actor, session=s)
            crash_point("policy.publish.version_written")
            self.audit.record(
                "policy.publish",
                "policy",
                policy_name,
                {"version": record.version, "checksum": record.checksum},
                actor=actor,
                session=s,
            )
            s.flush()
            crash_point("policy.publish.audit_written")
        self.audit.anchor()
        return record
