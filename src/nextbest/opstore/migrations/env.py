"""Alembic environment, configured in code by :meth:`OperationalStore.migrate`.

The caller hands over an open connection in ``config.attributes["connection"]``; there is
no ``alembic.ini`` and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

from nextbest.opstore.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through nextbest.opstore.OperationalStore.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
