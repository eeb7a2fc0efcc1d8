"""Backend-parametrised fixtures: every opstore test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``NEXTBEST_TEST_POSTGRES_URL`` (default: a local server with trust
auth). Each test gets its own freshly created schema, dropped afterwards, so runs never
collide and leave nothing behind. An unreachable server fails the run when ``CI`` is set
and is reported as skipped otherwise (the project's only allowed skip).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nextbest.opstore import OperationalStore
from nextbest.privacy.keys import KeyRing
from tests.conftest import IN_CI

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str:
    return os.environ.get("NEXTBEST_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@cache
def _postgres_problem() -> str | None:
    url = postgres_url()
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL not reachable at {shown}: {type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def _require_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{problem} (CI is set, so PostgreSQL tests must run)", pytrace=False)
    pytest.skip(problem)


def _fresh_postgres_url() -> tuple[str, str]:
    schema = f"nbtest_{os.getpid()}_{secrets.token_hex(4)}"
    url = make_url(postgres_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _drop_schema(schema: str) -> None:
    engine = create_engine(postgres_url())
    try:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (fresh SQLite file, or fresh PostgreSQL schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opstore.sqlite'}"
        return
    _require_postgres()
    url, schema = _fresh_postgres_url()
    engine = create_engine(postgres_url())
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    try:
        yield url
    finally:
        _drop_schema(schema)


@pytest.fixture
def store(store_url: str) -> Iterator[OperationalStore]:
    """A migrated operational store on each backend."""
    opstore = OperationalStore(store_url)
    opstore.migrate()
    try:
        yield opstore
    finally:
        opstore.dispose()


@pytest.fixture
def keyring(tmp_path: Path) -> KeyRing:
    """A random key ring saved to a temporary key file (so rotation can write it)."""
    ring = KeyRing.generate()
    ring.save(tmp_path / "keys" / "master.key")
    return ring
