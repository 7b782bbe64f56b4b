"""Alembic environment: migrates the connection that ``open_database`` passes in.

Inspector runs migrations in-process (never through the ``alembic`` command
line), so this environment needs no URL and no ``alembic.ini``: the caller puts
an open connection in ``config.attributes["connection"]``.
"""

from alembic import context

from inspector.storage.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    msg = (
        "Inspector migrations run from inspector.storage.engine.open_database, which passes "
        "a connection in config.attributes['connection']; call that instead of 'alembic'"
    )
    raise RuntimeError(msg)

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: later revisions rebuild tables in batch mode
    # (on PostgreSQL the same batch operations are plain ALTER TABLE statements).
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
