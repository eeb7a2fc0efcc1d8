"""Roles, permissions and the permission matrix, as data.

The matrix below is the single source of truth: the API enforces it on every route,
``docs/api.md`` shows it (a test keeps the two in sync), and a test calls every registered
route with a token of every role and checks the answer against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from nextbest.errors import NextbestError

__all__ = [
    "FIELD_PERMISSIONS",
    "MATRIX",
    "Permission",
    "Principal",
    "Role",
    "UnknownRoleError",
    "matrix_markdown",
    "parse_roles",
    "permissions_for",
]


class Role(StrEnum):
    """The seven roles of the issue; a user may hold several."""

    ADMIN = "admin"
    MARKETER = "marketer"
    ANALYST = "analyst"
    APPROVER = "approver"
    SERVICE_AGENT = "service_agent"
    COMPLIANCE_OFFICER = "compliance_officer"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """What a route needs. ``resource:action``; one permission per route."""

    SELF_READ = "self:read"  # own account, own tokens
    CUSTOMER_READ = "customer:read"  # search and masked profiles
    CUSTOMER_READ_SENSITIVE = "customer:read_sensitive"  # income and other sensitive fields
    CUSTOMER_UNMASK = "customer:unmask"  # direct identifiers in clear (purpose required)
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    DSR_EXPORT = "dsr:export"  # data-subject request: export the subject's data
    DSR_ERASE = "dsr:erase"  # data-subject request: erasure (crypto-shred)
    LEGAL_HOLD_MANAGE = "legal_hold:manage"
    EVENT_WRITE = "event:write"  # put events into the inbox
    BATCH_READ = "batch:read"
    POLICY_READ = "policy:read"
    POLICY_WRITE = "policy:write"
    USER_READ = "user:read"
    USER_MANAGE = "user:manage"
    APIKEY_MANAGE = "apikey:manage"
    AUDIT_READ = "audit:read"
    AUDIT_VERIFY = "audit:verify"
    DECISION_DECIDE = "decision:decide"  # real-time decide and outcomes (front ends, systems)
    DECISION_READ = "decision:read"  # the batch run's decisions (pseudonymous keys only)
    OFFER_READ = "offer:read"
    INSIGHT_READ = "insight:read"  # tags, segments, lifecycle, CLV (pseudonymous keys only)
    MODEL_READ = "model:read"  # the model registry: versions, metrics, champions
    SCORE_READ = "score:read"  # a customer's model scores from the serving snapshot


P = Permission

# Permissions that gate fields inside a response rather than a whole route.
FIELD_PERMISSIONS = frozenset({Permission.CUSTOMER_READ_SENSITIVE})

# Least privilege: nobody but compliance and service agents sees identifiers in clear, the
# administrator manages accounts but reads no customer data beyond masked profiles, and
# the auditor reads the audit log and configuration but no customer data at all.
MATRIX: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            P.SELF_READ,
            P.USER_READ,
            P.USER_MANAGE,
            P.APIKEY_MANAGE,
            P.BATCH_READ,
            P.POLICY_READ,
            P.EVENT_WRITE,
            P.DECISION_DECIDE,
            P.OFFER_READ,
            P.MODEL_READ,
        }
    ),
    Role.MARKETER: frozenset(
        {
            P.SELF_READ,
            P.CUSTOMER_READ,
            P.CONSENT_READ,
            P.EVENT_WRITE,
            P.POLICY_READ,
            P.BATCH_READ,
            P.DECISION_DECIDE,
            P.DECISION_READ,
            P.OFFER_READ,
            P.INSIGHT_READ,
            P.MODEL_READ,
            P.SCORE_READ,
        }
    ),
    Role.ANALYST: frozenset(
        {
            P.SELF_READ,
            P.CUSTOMER_READ,
            P.CUSTOMER_READ_SENSITIVE,
            P.CONSENT_READ,
            P.POLICY_READ,
            P.BATCH_READ,
            P.DECISION_READ,
            P.OFFER_READ,
            P.INSIGHT_READ,
            P.MODEL_READ,
            P.SCORE_READ,
        }
    ),
    Role.APPROVER: frozenset(
        {
            P.SELF_READ,
            P.CUSTOMER_READ,
            P.CONSENT_READ,
            P.POLICY_READ,
            P.POLICY_WRITE,
            P.OFFER_READ,
            P.INSIGHT_READ,
            P.MODEL_READ,
        }
    ),
    Role.SERVICE_AGENT: frozenset(
        {
            P.SELF_READ,
            P.CUSTOMER_READ,
            P.CUSTOMER_UNMASK,
            P.CONSENT_READ,
            P.CONSENT_WRITE,
            P.EVENT_WRITE,
            P.DSR_EXPORT,
            P.DECISION_DECIDE,
            P.OFFER_READ,
            P.INSIGHT_READ,
            P.SCORE_READ,
        }
    ),
    Role.COMPLIANCE_OFFICER: frozenset(
        {
            P.SELF_READ,
            P.CUSTOMER_READ,
            P.CUSTOMER_READ_SENSITIVE,
            P.CUSTOMER_UNMASK,
            P.CONSENT_READ,
            P.CONSENT_WRITE,
            P.DSR_EXPORT,
            P.DSR_ERASE,
            P.LEGAL_HOLD_MANAGE,
            P.POLICY_READ,
            P.BATCH_READ,
            P.AUDIT_READ,
            P.AUDIT_VERIFY,
            P.DECISION_READ,
            P.OFFER_READ,
            P.INSIGHT_READ,
            P.MODEL_READ,
            P.SCORE_READ,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            P.SELF_READ,
            P.USER_READ,
            P.POLICY_READ,
            P.BATCH_READ,
            P.AUDIT_READ,
            P.AUDIT_VERIFY,
            P.DECISION_READ,
            P.OFFER_READ,
            P.MODEL_READ,
        }
    ),
}


class UnknownRoleError(NextbestError):
    """A role name that is not one of :class:`Role`."""


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    """Validate role names (``UnknownRoleError`` names the bad one and lists the valid)."""
    roles = set()
    for name in names:
        try:
            roles.add(Role(name))
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise UnknownRoleError(f"unknown role {name!r}; valid roles: {valid}") from None
    return frozenset(roles)


def permissions_for(roles: Iterable[Role | str]) -> frozenset[Permission]:
    """Union of the permissions of ``roles`` (unknown names grant nothing)."""
    granted: set[Permission] = set()
    for role in roles:
        try:
            granted |= MATRIX[Role(role)]
        except ValueError:
            continue
    return frozenset(granted)


@cache
def _granted(roles: frozenset[Role]) -> frozenset[Permission]:
    # a handful of role combinations exist: checked on every request, computed once each
    return permissions_for(roles)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (by token) or an integration (by API key)."""

    subject: str
    kind: str  # "user" | "api_key"
    roles: frozenset[Role]

    @property
    def permissions(self) -> frozenset[Permission]:
        return _granted(self.roles)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def matrix_markdown() -> str:
    """The permission matrix as a Markdown table (``docs/api.md`` embeds it verbatim)."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "|".join(":-:" for _ in roles) + "|",
    ]
    for permission in Permission:
        marks = " | ".join("✓" if permission in MATRIX[r] else "" for r in roles)
        lines.append(f"| `{permission.value}` | {marks} |")
    return "\n".join(lines) + "\n"
