"""Accounts and sign-in: users with roles, password logins with lockout, token rotation,
API keys. Every change and every login attempt is audited.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from nextbest.errors import NextbestError
from nextbest.opstore.models import (
    ApiKey,
    AppUser,
    LoginState,
    RefreshToken,
    Role,
    user_role,
    utcnow,
)
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.users import UserDirectory, UserRecord
from nextbest.privacy.keys import KeyRing
from nextbest.security import lockout
from nextbest.security.apikeys import new_api_key, parse_api_key, secret_matches
from nextbest.security.errors import AccountLockedError, AuthenticationError
from nextbest.security.passwords import check_password_rule, hash_password, verify_password
from nextbest.security.permissions import Principal, parse_roles
from nextbest.security.tokens import (
    REFRESH_TOKEN_DAYS,
    InvalidTokenError,
    TokenSigner,
    hash_secret,
    new_refresh_token,
)
from nextbest.services.audit import AuditService

__all__ = [
    "ApiKeyInfo",
    "DuplicateUserError",
    "IssuedApiKey",
    "TokenPair",
    "UserError",
    "UserNotFoundError",
    "UserService",
]

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_BAD_LOGIN = "invalid user name or password"


class UserError(NextbestError):
    """A user request that cannot be done as asked (the message names the field)."""


class UserNotFoundError(UserError):
    pass


class DuplicateUserError(UserError):
    pass


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"

    def __repr__(self) -> str:
        return f"TokenPair(expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    key_id: str
    name: str
    roles: tuple[str, ...]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    info: ApiKeyInfo
    key: str  # shown once, never stored

    def __repr__(self) -> str:
        return f"IssuedApiKey(key_id={self.info.key_id!r})"


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        row.key_id, row.name, tuple(row.roles), row.created_by, row.created_at, row.revoked_at
    )


class UserService:
    """Users, logins, tokens and API keys.

    Parameters
    ----------
    store, keyring:
        Operational store and key ring (the token signing key is derived from it).
    audit:
        Where logins and changes are recorded.
    policy:
        Lockout rule.
    refresh_lifetime:
        How long a refresh token lives.
    """

    def __init__(
        self,
        store: OperationalStore,
        keyring: KeyRing,
        audit: AuditService,
        *,
        policy: lockout.LockoutPolicy | None = None,
        signer: TokenSigner | None = None,
        refresh_lifetime: timedelta = timedelta(days=REFRESH_TOKEN_DAYS),
    ) -> None:
        self.store = store
        self.audit = audit
        self.directory = UserDirectory(store)
        self.policy = policy or lockout.LockoutPolicy()
        self.signer = signer or TokenSigner.from_keyring(keyring)
        self.refresh_lifetime = refresh_lifetime

    # --- accounts -----------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        display_name: str,
        roles: Iterable[str],
        password: str,
        *,
        actor: str,
    ) -> UserRecord:
        """Create an active user; the password must pass the rule (no defaults exist)."""
        if not _USERNAME.match(username):
            raise UserError(
                f"username: {username!r} must be 2-64 characters of a-z, 0-9, '.', '_' or '-', "
                "starting with a letter"
            )
        chosen = sorted(r.value for r in parse_roles(roles))
        if not chosen:
            raise UserError("roles: at least one role is required")
        check_password_rule(password, username)
        with self.store.session() as s:
            if s.scalar(select(AppUser.id).where(AppUser.username == username)) is not None:
                raise DuplicateUserError(f"username: {username!r} already exists")
            record = self.directory.add_user(username, display_name, tuple(chosen), session=s)
            row = s.get(AppUser, record.id)
            assert row is not None
            row.password_hash = hash_password(password)
            self.audit.record(
                "user.create", "user", username, {"roles": chosen}, actor=actor, session=s
            )
        self.audit.anchor()
        return record

    def get(self, username: str) -> UserRecord:
        record = self.directory.get(username)
        if record is None:
            raise UserNotFoundError(f"username: no user {username!r}")
        return record

    def list_users(self, *, limit: int = 50, offset: int = 0) -> tuple[list[UserRecord], int]:
        with self.store.session(readonly=True) as s:
            total = int(s.scalar(select(func.count()).select_from(AppUser)) or 0)
            rows = s.scalars(select(AppUser).order_by(AppUser.username).limit(limit).offset(offset))
            return [UserRecord.from_row(r) for r in rows], total

    def set_roles(self, username: str, roles: Iterable[str], *, actor: str) -> UserRecord:
        chosen = sorted(r.value for r in parse_roles(roles))
        if not chosen:
            raise UserError("roles: at least one role is required")
        with self.store.session() as s:
            user = self._user_row(s, username)
            before = sorted(r.name for r in user.roles)
            user.roles = [self._role(s, name) for name in chosen]
            s.flush()
            self.audit.record(
                "user.roles",
                "user",
                username,
                {"before": before, "after": chosen},
                actor=actor,
                session=s,
            )
            record = UserRecord.from_row(user)
        self.audit.anchor()
        return record

    def set_active(self, username: str, active: bool, *, actor: str) -> UserRecord:
        """(De)activate a user; deactivation also revokes every refresh token."""
        with self.store.session() as s:
            user = self._user_row(s, username)
            user.is_active = active
            if not active:
                self._revoke(s, RefreshToken.user_id == user.id, "deactivated")
            self.audit.record(
                "user.activate" if active else "user.deactivate",
                "user",
                username,
                actor=actor,
                session=s,
            )
            record = UserRecord.from_row(user)
        self.audit.anchor()
        return record

    def set_password(self, username: str, password: str, *, actor: str) -> None:
        check_password_rule(password, username)
        with self.store.session() as s:
            user = self._user_row(s, username)
            user.password_hash = hash_password(password)
            self._revoke(s, RefreshToken.user_id == user.id, "password_changed")
            s.execute(
                update(LoginState)
                .where(LoginState.user_id == user.id)
                .values(failed_count=0, locked_until=None)
            )
            self.audit.record("user.password", "user", username, actor=actor, session=s)
        self.audit.anchor()

    @staticmethod
    def _user_row(session: Session, username: str) -> AppUser:
        user = session.scalars(select(AppUser).where(AppUser.username == username)).first()
        if user is None:
            raise UserNotFoundError(f"username: no user {username!r}")
        return user

    @staticmethod
    def _role(session: Session, name: str) -> Role:
        role = session.scalars(select(Role).where(Role.name == name)).first()
        if role is None:
            role = Role(name=name, description="")
            session.add(role)
        return role

    # --- login and tokens ---------------------------------------------------------------
    def login(self, username: str, password: str, *, client: str = "") -> TokenPair:
        """Check the password under the lockout rule and issue a token pair.

        Raises
        ------
        AccountLockedError
            While the account is locked (even with the right password).
        AuthenticationError
            Unknown user, inactive user or wrong password (one message for all three).
        """
        now = utcnow()
        failure: AuthenticationError | None = None
        with self.store.session() as s:
            user = s.scalars(select(AppUser).where(AppUser.username == username)).first()
            state_row = None if user is None else s.get(LoginState, user.id, with_for_update=True)
            state = lockout.LoginState(
                state_row.failed_count if state_row else 0,
                state_row.locked_until if state_row else None,
            )
            if user is not None and self.policy.is_locked(state, now):
                assert state.locked_until is not None
                self.audit.record(
                    "auth.login_locked",
                    "user",
                    username,
                    {"client": client},
                    actor=username,
                    session=s,
                )
                failure = AccountLockedError(username, state.locked_until)
            elif (
                user is None
                or not verify_password(user.password_hash, password)
                or not user.is_active
            ):
                detail: dict[str, object] = {"client": client, "known_user": user is not None}
                if user is not None:
                    state = self.policy.after_failure(state, now)
                    if state_row is None:
                        state_row = LoginState(user_id=user.id)
                        s.add(state_row)
                    state_row.failed_count = state.failed_count
                    state_row.locked_until = state.locked_until
                    state_row.last_failure_at = now
                    detail["failures"] = state.failed_count
                    detail["locked"] = state.locked_until is not None
                self.audit.record(
                    "auth.login_failed",
                    "user",
                    username[:100],
                    detail,
                    actor=username[:100] or "anonymous",
                    session=s,
                )
                failure = AuthenticationError(_BAD_LOGIN)
            else:
                if state_row is not None:
                    state_row.failed_count = 0
                    state_row.locked_until = None
                roles = tuple(sorted(r.name for r in user.roles))
                pair = self._issue(s, user.id, username, roles, family=secrets.token_hex(16))
                self.audit.record(
                    "auth.login", "user", username, {"client": client}, actor=username, session=s
                )
        self.audit.anchor()
        if failure is not None:
            raise failure
        return pair

    def _issue(
        self, session: Session, user_id: int, username: str, roles: tuple[str, ...], family: str
    ) -> TokenPair:
        now = utcnow()
        refresh = new_refresh_token()
        session.add(
            RefreshToken(
                token_hash=hash_secret(refresh),
                user_id=user_id,
                family_id=family,
                issued_at=now,
                expires_at=now + self.refresh_lifetime,
            )
        )
        access = self.signer.issue(username, roles, now=now)
        return TokenPair(access, refresh, int(self.signer.lifetime.total_seconds()))

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: revoke the presented token and issue a new pair in the same family.

        A token presented after it was rotated means it was copied: the whole family is
        revoked and the user must log in again.
        """
        now = utcnow()
        reused = False
        with self.store.session() as s:
            row = s.get(RefreshToken, hash_secret(refresh_token), with_for_update=True)
            if row is None:
                raise AuthenticationError("refresh token unknown")
            user = s.get(AppUser, row.user_id)
            assert user is not None
            if row.revoked_at is not None:
                reused = row.revoked_reason == "rotated"
                if reused:
                    self._revoke(s, RefreshToken.family_id == row.family_id, "reuse_detected")
                    self.audit.record(
                        "auth.refresh_reuse",
                        "user",
                        user.username,
                        {"family": row.family_id},
                        actor=user.username,
                        session=s,
                    )
                else:
                    raise AuthenticationError("refresh token revoked; log in again")
            elif row.expires_at <= now:
                raise AuthenticationError("refresh token expired; log in again")
            elif not user.is_active:
                raise AuthenticationError("account inactive")
            else:
                row.revoked_at = now
                row.revoked_reason = "rotated"
                roles = tuple(sorted(r.name for r in user.roles))
                pair = self._issue(s, user.id, user.username, roles, row.family_id)
        if reused:
            self.audit.anchor()
            raise AuthenticationError("refresh token was already used; all sessions revoked")
        return pair

    def logout(self, refresh_token: str, *, actor: str) -> None:
        """Revoke the token's whole family (this device's session)."""
        with self.store.session() as s:
            row = s.get(RefreshToken, hash_secret(refresh_token))
            user = None if row is None else s.get(AppUser, row.user_id)
            if row is None or user is None or user.username != actor:
                raise UserNotFoundError("refresh_token: not a token of this user")
            self._revoke(s, RefreshToken.family_id == row.family_id, "logout")
            self.audit.record("auth.logout", "user", actor, actor=actor, session=s)
        self.audit.anchor()

    @staticmethod
    def _revoke(session: Session, condition: object, reason: str) -> None:
        session.execute(
            update(RefreshToken)
            .where(condition, RefreshToken.revoked_at.is_(None))  # type: ignore[arg-type]
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )

    def principal_from_token(self, access_token: str) -> Principal:
        """Check an access token and return the caller with their *current* roles.

        Roles are read from the store on every call so that a revoked role or a deactivated
        account takes effect at once, not when the token expires.
        """
        try:
            claims = self.signer.verify(access_token)
        except InvalidTokenError as exc:
            raise AuthenticationError(str(exc)) from None
        # one statement, no ORM entities: this runs on every request
        query = (
            select(AppUser.is_active, Role.name)
            .select_from(AppUser)
            .outerjoin(user_role, user_role.c.user_id == AppUser.id)
            .outerjoin(Role, Role.id == user_role.c.role_id)
            .where(AppUser.username == claims.subject)
        )
        with self.store.session(readonly=True) as s:
            rows = s.execute(query).all()
        if not rows or not rows[0][0]:
            raise AuthenticationError("account inactive or removed")
        roles = parse_roles(name for _, name in rows if name is not None)
        return Principal(claims.subject, "user", roles)

    # --- API keys -----------------------------------------------------------------------
    def create_api_key(self, name: str, roles: Iterable[str], *, actor: str) -> IssuedApiKey:
        chosen = sorted(r.value for r in parse_roles(roles))
        if not chosen:
            raise UserError("roles: at least one role is required")
        if not name.strip() or len(name) > 100:
            raise UserError("name: 1-100 characters required")
        key = new_api_key()
        with self.store.session() as s:
            row = ApiKey(
                key_id=key.key_id,
                name=name.strip(),
                secret_hash=hash_secret(key.full),
                roles=chosen,
                created_by=actor,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            self.audit.record(
                "apikey.create",
                "api_key",
                key.key_id,
                {"name": row.name, "roles": chosen},
                actor=actor,
                session=s,
            )
            info = _info(row)
        self.audit.anchor()
        return IssuedApiKey(info, key.full)

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self.store.session(readonly=True) as s:
            return [_info(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.created_at))]

    def revoke_api_key(self, key_id: str, *, actor: str) -> ApiKeyInfo:
        with self.store.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise UserNotFoundError(f"key_id: no API key {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            self.audit.record("apikey.revoke", "api_key", key_id, actor=actor, session=s)
            info = _info(row)
        self.audit.anchor()
        return info

    def principal_from_api_key(self, presented: str) -> Principal:
        parts = parse_api_key(presented)
        if parts is None:
            raise AuthenticationError("API key malformed")
        with self.store.session(readonly=True) as s:
            row = s.get(ApiKey, parts.key_id)
            if row is None or not secret_matches(row.secret_hash, presented):
                raise AuthenticationError("API key unknown")
            if row.revoked_at is not None:
                raise AuthenticationError("API key revoked")
            roles = parse_roles(row.roles)
            name = row.name
        return Principal(f"apikey:{parts.key_id}:{name}"[:100], "api_key", roles)
