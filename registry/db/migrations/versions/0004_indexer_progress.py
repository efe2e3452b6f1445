"""Indexer progress: one row per chunk written, with running totals (events, steps, step-time
histogram), so that a process other than the indexer's (the API) reports the indexing rate.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "indexer_progress",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cursor_name", sa.String(64), nullable=False),
        sa.Column("first_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("events_total", sa.BigInteger(), nullable=False),
        sa.Column("steps_total", sa.BigInteger(), nullable=False),
        sa.Column("seconds_total", sa.Float(), nullable=False),
        sa.Column("step_buckets", sa.JSON(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_indexer_progress"),
    )
    op.create_index(
        "ix_indexer_progress_cursor_name_committed_at",
        "indexer_progress",
        ["cursor_name", "committed_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_indexer_progress_cursor_name_committed_at", table_name="indexer_progress")
    op.drop_table("indexer_progress")
