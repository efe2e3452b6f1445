"""Writes take an ``Idempotency-Key``: the ``idempotency_keys`` table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

A bank whose request timed out sends it again with the same key; the table holds, per institution
and key, the request's digest, the transaction signed for it (kept before it is sent) and the
answer, so that the retry gets the first answer, never a second transaction
(:mod:`registry.idempotency`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("institution", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("tx_sender", sa.String(42), nullable=True),
        sa.Column("tx_nonce", sa.BigInteger, nullable=True),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("response_body", sa.Text, nullable=True),
        sa.Column("response_headers", sa.Text, nullable=True),
        sa.Column("tx_block", sa.BigInteger, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
