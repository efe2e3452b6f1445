"""An idempotency key's transaction may be shared: ``idempotency_keys.tx_part``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Concurrent writes of one bank go out as one multicall transaction (:mod:`registry.chain.grouping`);
a retry that follows the transaction its dead predecessor signed must know which of its calls was
the request's, to read that call's outcome and not a neighbour's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.add_column(sa.Column("tx_part", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.drop_column("tx_part")
