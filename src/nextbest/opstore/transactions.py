"""Join the caller's transaction, or run a new one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from nextbest.opstore.store import OperationalStore

__all__ = ["in_transaction"]


@contextmanager
def in_transaction(
    store: OperationalStore, session: Session | None, *, readonly: bool = False
) -> Iterator[Session]:
    """Yield ``session`` unchanged (the caller commits), or a new one committed at exit."""
    if session is not None:
        yield session
        return
    with store.session(readonly=readonly) as own:
        yield own
