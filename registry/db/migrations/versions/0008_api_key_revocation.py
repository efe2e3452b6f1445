"""API keys can be revoked: ``api_keys.revoked_at`` and ``revoked_reason``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A key removed from the secrets file, replaced in it, or revoked by an operator (``creditreg keys
revoke``) is marked rather than deleted: the lookup ignores it from the next request on, storing
the secrets file's keys at the next start does not bring it back, and the table still shows which
keys existed and why they stopped working.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_reason", sa.String(200), nullable=True))


def downgrade() -> None:
    # The keys revoked until now would work again without the column: drop them first.
    op.execute(sa.text("DELETE FROM api_keys WHERE revoked_at IS NOT NULL"))
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("revoked_reason")
        batch.drop_column("revoked_at")
