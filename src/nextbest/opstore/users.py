"""Minimal user and role directory (authentication arrives with the web issue)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from nextbest.errors import NextbestError
from nextbest.opstore.models import AppUser, Role, utcnow
from nextbest.opstore.store import OperationalStore
from nextbest.opstore.transactions import in_transaction

__all__ = ["UserDirectory", "UserError", "UserRecord"]


class UserError(NextbestError):
    """Unknown or duplicate user name."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    display_name: str
    is_active: bool
    roles: frozenset[str]

    @classmethod
    def from_row(cls, row: AppUser) -> UserRecord:
        return cls(
            row.id,
            row.username,
            row.display_name,
            row.is_active,
            frozenset(r.name for r in row.roles),
        )


class UserDirectory:
    def __init__(self, store: OperationalStore) -> None:
        self.store = store

    def add_user(
        self,
        username: str,
        display_name: str,
        roles: tuple[str, ...] = (),
        *,
        session: Session | None = None,
    ) -> UserRecord:
        """Create a user with the given roles (roles are created when missing)."""
        with in_transaction(self.store, session) as s:
            if s.scalar(select(AppUser.id).where(AppUser.username == username)) is not None:
                raise UserError(f"user {username!r} already exists")
            user = AppUser(
                username=username, display_name=display_name, is_active=True, created_at=utcnow()
            )
            user.roles = [self._role(s, name) for name in roles]
            s.add(user)
            s.flush()
            return UserRecord.from_row(user)

    def get(self, username: str, *, session: Session | None = None) -> UserRecord | None:
        with in_transaction(self.store, session, readonly=True) as s:
            user = s.scalars(select(AppUser).where(AppUser.username == username)).first()
            return None if user is None else UserRecord.from_row(user)

    def grant(self, username: str, role: str, *, session: Session | None = None) -> UserRecord:
        with in_transaction(self.store, session) as s:
            user = s.scalars(select(AppUser).where(AppUser.username == username)).first()
            if user is None:
                raise UserError(f"user {username!r} does not exist")
            if role not in {r.name for r in user.roles}:
                user.roles.append(self._role(s, role))
            s.flush()
            return UserRecord.from_row(user)

    @staticmethod
    def _role(session: Session, name: str) -> Role:
        role = session.scalars(select(Role).where(Role.name == name)).first()
        if role is None:
            role = Role(name=name, description="")
            session.add(role)
        return role
