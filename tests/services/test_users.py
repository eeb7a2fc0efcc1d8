from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from nextbest.opstore.users import UserRecord
from nextbest.security.errors import AccountLockedError, AuthenticationError
from nextbest.security.lockout import LockoutPolicy
from nextbest.security.passwords import WeakPasswordError
from nextbest.security.permissions import Role, UnknownRoleError
from nextbest.services.audit import AuditService, anchor_path
from nextbest.services.users import DuplicateUserError, UserError, UserService
from tests.api.conftest import (  # noqa: F401
    _cheap_password_hashing,
    decisions_dir,
    installation,
    store_url,
)

PASSWORD = "a long pass phrase 42"


@pytest.fixture
def users(installation):  # type: ignore[no-untyped-def]  # noqa: F811
    settings, store, keyring = installation
    audit = AuditService(store, keyring, anchor_path(settings.home))
    return UserService(store, keyring, audit, policy=LockoutPolicy(max_failures=3))


def _create(users: UserService, name: str = "li.na", roles=("analyst",)) -> UserRecord:  # type: ignore[no-untyped-def]
    return users.create_user(name, "Li Na", roles, PASSWORD, actor="admin")


def test_create_user_validates_and_audits(users: UserService) -> None:
    record = _create(users)
    assert record.roles == frozenset({"analyst"})
    with pytest.raises(DuplicateUserError, match=r"username: 'li\.na' already exists"):
        _create(users)
    with pytest.raises(UnknownRoleError, match="'root'"):
        _create(users, "wang", ("root",))
    with pytest.raises(WeakPasswordError, match="password"):
        users.create_user("wang", "Wang", ("analyst",), "short", actor="admin")
    with pytest.raises(UserError, match="username"):
        users.create_user("Bad Name", "x", ("analyst",), PASSWORD, actor="admin")
    entries = users.audit.entries()
    assert [e.action for e in entries] == ["user.create"]
    assert users.audit.verify().ok


def test_login_refresh_rotation_and_reuse_detection(users: UserService) -> None:
    _create(users)
    pair = users.login("li.na", PASSWORD)
    principal = users.principal_from_token(pair.access_token)
    assert principal.subject == "li.na" and principal.roles == {Role.ANALYST}
    second = users.refresh(pair.refresh_token)
    third = users.refresh(second.refresh_token)
    # presenting a rotated token revokes the whole family, including the newest token
    with pytest.raises(AuthenticationError, match="already used"):
        users.refresh(pair.refresh_token)
    with pytest.raises(AuthenticationError, match="revoked"):
        users.refresh(third.refresh_token)
    actions = [e.action for e in users.audit.entries()]
    assert actions[0] == "auth.refresh_reuse"
    assert "auth.login" in actions


def test_lockout_after_repeated_failures_even_with_the_right_password(users: UserService) -> None:
    _create(users)
    for _ in range(3):
        with pytest.raises(AuthenticationError, match="invalid user name or password"):
            users.login("li.na", "wrong password!!")
    with pytest.raises(AccountLockedError, match="locked"):
        users.login("li.na", PASSWORD)
    # the lock ends by itself
    with users.store.session() as s:
        s.execute(text("UPDATE login_state SET locked_until = NULL, failed_count = 0"))
    assert users.login("li.na", PASSWORD).access_token
    failed = [e for e in users.audit.entries() if e.action == "auth.login_failed"]
    assert len(failed) == 3 and failed[0].detail["locked"] is True


def test_unknown_user_gets_the_same_answer(users: UserService) -> None:
    with pytest.raises(AuthenticationError, match="invalid user name or password"):
        users.login("nobody", PASSWORD)


def test_role_change_and_deactivation_take_effect_immediately(users: UserService) -> None:
    _create(users)
    pair = users.login("li.na", PASSWORD)
    users.set_roles("li.na", ["auditor"], actor="admin")
    assert users.principal_from_token(pair.access_token).roles == {Role.AUDITOR}
    users.set_active("li.na", False, actor="admin")
    with pytest.raises(AuthenticationError, match="inactive"):
        users.principal_from_token(pair.access_token)
    with pytest.raises(AuthenticationError, match="revoked"):
        users.refresh(pair.refresh_token)


def test_expired_refresh_token_is_refused(users: UserService) -> None:
    _create(users)
    users.refresh_lifetime = timedelta(seconds=-1)
    pair = users.login("li.na", PASSWORD)
    with pytest.raises(AuthenticationError, match="expired"):
        users.refresh(pair.refresh_token)


def test_api_keys_authenticate_until_revoked(users: UserService) -> None:
    issued = users.create_api_key("crm-sync", ["marketer"], actor="admin")
    principal = users.principal_from_api_key(issued.key)
    assert principal.kind == "api_key" and principal.roles == {Role.MARKETER}
    with pytest.raises(AuthenticationError, match="unknown"):
        users.principal_from_api_key(issued.key[:-1] + "x")
    users.revoke_api_key(issued.info.key_id, actor="admin")
    with pytest.raises(AuthenticationError, match="revoked"):
        users.principal_from_api_key(issued.key)
    assert [k.key_id for k in users.list_api_keys()] == [issued.info.key_id]
