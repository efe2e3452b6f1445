"""Caps computed on read: ``receivables.cap`` goes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

A receivable's cap follows the advance-rate policy, so a policy change wrote a new version of every
live receivable: one event, work and rows linear in the live receivables (a million at a
registry's scale, in one transaction). Reads now compute the cap from the declarations and the
rates in force at the block read (``registry.db.read.with_caps``), as the contract does, and a
policy change writes one row. The column's values are derived, so dropping it loses nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.db.types import Uint256

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("receivables") as batch:
        batch.drop_column("cap")


def downgrade() -> None:
    # The caps are not restored: an index downgraded past here is rebuilt by a replay.
    with op.batch_alter_table("receivables") as batch:
        batch.add_column(sa.Column("cap", Uint256(), nullable=False, server_default="0"))
