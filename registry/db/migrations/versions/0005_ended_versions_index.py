"""Ended versions only in each versioned projection's ``valid_to_block`` index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

The index serves a rollback's range scan (``valid_to_block > ancestor``), which only ended versions
can match. Holding the current versions' NULLs as well, it was most of its own size, grew with
every new version, and misled SQLite (which plans without statistics) into finding the current
declarations of a receivable through it: a scan of every current row per query.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# The versioned projections as of this revision (a migration does not follow later schema changes).
VERSIONED_TABLES = (
    "receivables",
    "declarations",
    "declaration_attestations",
    "advance_rates",
    "properties",
    "pledges",
    "enterprise_bindings",
    "consents",
    "role_grants",
    "institution_assignments",
)
ENDED = sa.text("valid_to_block IS NOT NULL")


def _recreate(where: sa.TextClause | None) -> None:
    for table in VERSIONED_TABLES:
        name = f"ix_{table}_valid_to_block"
        op.drop_index(name, table_name=table)
        op.create_index(name, table, ["valid_to_block"], sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _recreate(ENDED)


def downgrade() -> None:
    _recreate(None)
