"""Alembic migrations of the index database (see :func:`registry.db.create_schema`)."""
