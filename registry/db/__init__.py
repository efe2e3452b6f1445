"""The index database: SQLite by default, PostgreSQL by URL, through SQLAlchemy 2 Core.

The schema is owned by Alembic (``registry/db/migrations``): :func:`create_schema` upgrades a
database to the newest revision, so a new database is created and an older one migrated by the
same call, which every entry point (CLI, API, tests) makes before using the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from registry.db import schema
from registry.errors import ConfigurationError

__all__ = ["alembic_config", "create_schema", "make_engine", "opened_engine", "schema"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

POOL = {"pool_size": 20, "max_overflow": 20}
"""Connections an engine keeps: the API's request threads (anyio runs up to 40) each take one for
a moment; a connection beyond the kept ones is closed on return and opened again at the next
request, which costs more than the query (SQLite sets its pragmas, PostgreSQL authenticates)."""

# Serializes concurrent upgrades of one PostgreSQL database (an API and an indexer starting
# together); any constant shared by every creditreg process does.
_MIGRATION_LOCK = 0x6372_6567_6D69_67  # "cregmig"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; a SQLite file's directory is created, and WAL lets readers (the
    API) run beside the writer (the indexer)."""
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if "poolclass" not in kwargs and not in_memory:
        kwargs = {**POOL, **kwargs}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL stays consistent after a crash (a commit may be lost on
            # power failure, never half-applied); the indexer re-reads a lost chunk.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # 8 MiB of page cache (the default is 2): enough for a chunk's index pages, and
            # bounded, so that a process's memory does not grow with the database.
            cursor.execute("PRAGMA cache_size=-8192")
            cursor.execute("PRAGMA temp_store=MEMORY")
            # Checkpoint every 64 MiB of WAL rather than every 4 MiB: a replay rewrites the same
            # index pages chunk after chunk, and each checkpoint copies them to the database file
            # again (about a sixth of a replay's time at the default).
            cursor.execute("PRAGMA wal_autocheckpoint=16384")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # Plain postgresql:// means psycopg 3 here: it is the driver we install.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


@contextmanager
def opened_engine(url: str, **kwargs: Any) -> Iterator[Engine]:
    """:func:`make_engine` for one command's lifetime: its pool is closed on the way out."""
    engine = make_engine(url, **kwargs)
    try:
        yield engine
    finally:
        engine.dispose()


def alembic_config() -> Config:
    """The Alembic configuration of the index, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def create_schema(engine: Engine, revision: str = "head") -> None:
    """Upgrades the database behind ``engine`` to ``revision`` (the newest by default).

    A database whose tables were created before the index had migrations (no ``alembic_version``
    table) is refused with :class:`~registry.errors.ConfigurationError`: its projections have
    another shape, and as the index is derived from the chain alone, the fix is to drop it and
    re-index.
    """
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and tables & set(schema.metadata.tables):
            raise ConfigurationError(
                f"the index database {engine.url.render_as_string(hide_password=True)} predates "
                "its migrations; drop it (or delete the SQLite file) and re-index from the chain"
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
