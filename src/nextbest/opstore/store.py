"""The operational store: one SQLAlchemy engine, transactions and schema migrations.

SQLite (the default, one file under ``NEXTBEST_HOME``) and PostgreSQL
(``postgresql+psycopg://...``) are both supported; see ``docs/operational-store.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from nextbest.errors import NextbestError

if TYPE_CHECKING:
    from nextbest.config import Settings

__all__ = ["OperationalStore", "OperationalStoreError", "open_opstore"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant works; it only has to be the same for every nextbest process.
_MIGRATION_LOCK_ID = 0x6E657874
_READONLY_OPTION = "nextbest_readonly"


class OperationalStoreError(NextbestError):
    """The operational store cannot be reached, or its schema is not what nextbest needs."""


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so that "begin" below is
        # the only BEGIN that is ever sent.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers BEGIN IMMEDIATE, taking the write lock at the start: two writers queue on
        # busy_timeout instead of one failing later with "database is locked" when it
        # upgrades a read lock. Read-only sessions BEGIN DEFERRED and, thanks to WAL, never
        # wait for a writer.
        if connection.get_execution_options().get(_READONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class OperationalStore:
    """Connection to the operational store.

    Parameters
    ----------
    url:
        SQLAlchemy URL: ``sqlite:///path/to/opstore.sqlite`` or
        ``postgresql+psycopg://user@host:5432/db`` (a ``?options=-csearch_path%3Dschema``
        query selects a schema).
    echo:
        Log every SQL statement (debugging).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{_READONLY_OPTION: True}), expire_on_commit=False
        )

    def __repr__(self) -> str:
        return f"OperationalStore({make_url(self.url).render_as_string(hide_password=True)!r})"

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an exception.

        ``readonly=True`` promises not to write; on SQLite such a session does not take the
        write lock, so it runs while another process writes (it sees the last commit).
        """
        factory = self._read_sessions if readonly else self._sessions
        with factory.begin() as session:
            yield session

    def migrate(self) -> str:
        """Bring the schema to the newest migration (idempotent); return the revision.

        Alembic is configured in code from the migrations shipped inside the package, so no
        ``alembic.ini`` is needed at run time. On PostgreSQL an advisory lock makes
        concurrent callers take turns.
        """
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        script_location = resources.files("nextbest.opstore") / "migrations"
        config = Config()
        config.set_main_option("script_location", str(script_location))
        try:
            with self.engine.begin() as connection:
                if self.dialect == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                revision = MigrationContext.configure(connection).get_current_revision()
        except OperationalError as exc:
            raise OperationalStoreError(
                f"cannot migrate the operational store at {self!r}: {exc.orig}"
            ) from exc
        return revision or ""

    def current_revision(self) -> str | None:
        """The schema revision the database is at (``None`` before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_opstore(settings: Settings, *, migrate: bool = True) -> OperationalStore:
    """Open the installation's operational store (``settings.opstore``), migrated by default."""
    store = OperationalStore(settings.opstore)
    if migrate:
        store.migrate()
    return store
