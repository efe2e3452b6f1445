"""``receivables.maturity`` as an unsigned 256-bit column.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

The ledger takes any uint64 maturity from the registering bank, and a signed 64-bit column refused
one from 2**63 on: a bank's single call could stop the index for everybody. (The ledger's other
uint64, an attestation's export date, is refused on chain beyond the block's time.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.db.types import Uint256

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table (it cannot change a column's type in place); its
    # partial indexes are reflected with their conditions and created again.
    with op.batch_alter_table("receivables") as batch:
        batch.alter_column(
            "maturity",
            existing_type=sa.BigInteger(),
            type_=Uint256(),
            existing_nullable=False,
            postgresql_using="maturity::numeric(78, 0)",
        )


def downgrade() -> None:
    # Refused by the database should a maturity beyond 2**63 - 1 be stored.
    with op.batch_alter_table("receivables") as batch:
        batch.alter_column(
            "maturity",
            existing_type=Uint256(),
            type_=sa.BigInteger(),
            existing_nullable=False,
            postgresql_using="maturity::bigint",
        )
