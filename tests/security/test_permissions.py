from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nextbest.security.lockout import LockoutPolicy, LoginState
from nextbest.security.permissions import (
    MATRIX,
    Permission,
    Principal,
    Role,
    UnknownRoleError,
    parse_roles,
    permissions_for,
)
from nextbest.security.unmask import UnmaskPurpose, UnmaskRequest, UnmaskRequestError


def test_every_role_has_a_row_and_every_permission_is_granted_to_someone() -> None:
    assert set(MATRIX) == set(Role)
    granted = set().union(*MATRIX.values())
    assert granted == set(Permission)


def test_least_privilege_invariants() -> None:
    unmaskers = {r for r, perms in MATRIX.items() if Permission.CUSTOMER_UNMASK in perms}
    assert unmaskers == {Role.SERVICE_AGENT, Role.COMPLIANCE_OFFICER}
    assert not MATRIX[Role.AUDITOR] & {Permission.CUSTOMER_READ, Permission.CUSTOMER_UNMASK}
    assert Permission.AUDIT_READ not in MATRIX[Role.ADMIN]
    erasers = {r for r, perms in MATRIX.items() if Permission.DSR_ERASE in perms}
    assert erasers == {Role.COMPLIANCE_OFFICER}


def test_roles_parse_and_combine() -> None:
    roles = parse_roles(["analyst", "auditor"])
    assert permissions_for(roles) == MATRIX[Role.ANALYST] | MATRIX[Role.AUDITOR]
    with pytest.raises(UnknownRoleError, match="'root'"):
        parse_roles(["root"])
    principal = Principal("li.na", "user", roles)
    assert principal.can(Permission.AUDIT_VERIFY)
    assert not principal.can(Permission.USER_MANAGE)


def test_lockout_after_five_failures_and_expiry() -> None:
    policy = LockoutPolicy(max_failures=5, lock_for=timedelta(minutes=15))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    state = LoginState()
    for _ in range(4):
        state = policy.after_failure(state, now)
        assert not policy.is_locked(state, now)
    state = policy.after_failure(state, now)
    assert policy.is_locked(state, now + timedelta(minutes=14))
    assert not policy.is_locked(state, now + timedelta(minutes=15))
    # the first failure after the lock ran out starts counting again
    later = policy.after_failure(state, now + timedelta(minutes=16))
    assert later.failed_count == 1 and later.locked_until is None
    assert policy.after_success() == LoginState()


def test_unmask_request_needs_known_purpose_and_justification() -> None:
    ok = UnmaskRequest.parse("customer_service", "call ticket CS-2026-0001")
    assert ok.purpose is UnmaskPurpose.CUSTOMER_SERVICE
    with pytest.raises(UnmaskRequestError, match="purpose: required"):
        UnmaskRequest.parse(None, "call ticket CS-2026-0001")
    with pytest.raises(UnmaskRequestError, match="purpose: unknown 'curiosity'"):
        UnmaskRequest.parse("curiosity", "call ticket CS-2026-0001")
    with pytest.raises(UnmaskRequestError, match="justification"):
        UnmaskRequest.parse("customer_service", "  why ")
