from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from nextbest.opstore import OperationalStore
from nextbest.opstore.models import Base


def test_migrated_schema_matches_the_orm(store: OperationalStore) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrate_is_idempotent(store: OperationalStore) -> None:
    head = store.current_revision()
    assert head == "0003"
    assert store.migrate() == head
    assert store.migrate() == head
    again = OperationalStore(store.url)
    try:
        assert again.migrate() == head
    finally:
        again.dispose()


def test_session_commits_or_rolls_back(store: OperationalStore) -> None:
    insert = text("INSERT INTO role (name, description) VALUES (:n, '')")
    with store.session() as session:
        session.execute(insert, {"n": "analyst"})
    try:
        with store.session() as session:
            session.execute(insert, {"n": "manager"})
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with store.session() as session:
        names = session.execute(text("SELECT name FROM role")).scalars().all()
    assert names == ["analyst"]


def test_sqlite_pragmas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    opstore = OperationalStore(f"sqlite:///{tmp_path / 'sub' / 'op.sqlite'}")
    try:
        with opstore.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        opstore.dispose()
    assert repr(opstore).startswith("OperationalStore('sqlite")
