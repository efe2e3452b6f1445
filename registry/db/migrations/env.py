"""Alembic environment: migrates the index database to :data:`registry.db.schema.metadata`.

Run programmatically by :func:`registry.db.create_schema`, which passes its own connection in
``config.attributes["connection"]``; run from the command line (to write a new revision), it
connects to ``sqlalchemy.url`` from the ini file or, without one, to the configured index::

    .venv/bin/alembic -c registry/db/migrations/alembic.ini revision --autogenerate -m "..."

SQLite cannot alter most of a table in place, so every operation is rendered in batch mode
(copy, alter, swap), which is a no-op wrapper on PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from registry.db import make_engine
from registry.db.schema import metadata
from registry.settings import get_settings


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against a database")
_run()
