"""What the migrations that create versioned projections (0001 to 0003) share: the column types of
chain values and the version columns and indexes, as those revisions create them.

Frozen like the revisions themselves: a later schema change is a new revision (0005 restricted the
``valid_to_block`` indexes created here to ended versions), never an edit of this module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

HASH = sa.String(66)
ADDRESS = sa.String(42)
CURRENT = sa.text("valid_to_block IS NULL")


def version_columns() -> list[sa.Column[int]]:
    return [
        sa.Column("valid_from_block", sa.BigInteger(), nullable=False),
        sa.Column("valid_to_block", sa.BigInteger(), nullable=True),
    ]


def create_version_indexes(table: str, key: str) -> None:
    """One current version per ``key``, and the indexes of a rollback."""
    op.create_index(
        f"uq_{table}_current",
        table,
        [key],
        unique=True,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )
    op.create_index(f"ix_{table}_valid_from_block", table, ["valid_from_block"])
    op.create_index(f"ix_{table}_valid_to_block", table, ["valid_to_block"])
