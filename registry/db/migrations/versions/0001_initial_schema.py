"""Initial schema: events, versioned projections, block hashes, cursor, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.db.migrations.versioning import (
    ADDRESS,
    HASH,
    create_version_indexes,
    version_columns,
)
from registry.db.types import Uint256

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "indexer_cursor",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", HASH, nullable=False),
        sa.Column("reorgs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_reorg_depth", sa.Integer(), nullable=True),
        sa.Column("last_reorg_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name="pk_indexer_cursor"),
    )
    op.create_table(
        "indexed_blocks",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_indexed_blocks"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", HASH, nullable=False),
        sa.Column("tx_hash", HASH, nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("block_number", "log_index", name="uq_events_block_log"),
    )
    op.create_index("ix_events_event", "events", ["event"])

    op.create_table(
        "receivables",
        sa.Column("id", HASH, nullable=False),
        *version_columns(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("registrant", ADDRESS, nullable=False),
        sa.Column("exporter", HASH, nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("face_value", Uint256(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("maturity", sa.BigInteger(), nullable=False),
        sa.Column("advance_rate_bps", sa.Integer(), nullable=False),
        sa.Column("cap", Uint256(), nullable=False),
        sa.Column("declared_value", Uint256(), nullable=False),
        sa.Column("outstanding", Uint256(), nullable=False),
        sa.Column("financier", ADDRESS, nullable=True),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", "valid_from_block", name="pk_receivables"),
    )
    create_version_indexes("receivables", "id")
    for column in ("status", "registrant", "exporter"):
        op.create_index(f"ix_receivables_{column}", "receivables", [column])

    op.create_table(
        "declarations",
        sa.Column("fingerprint", HASH, nullable=False),
        *version_columns(),
        sa.Column("receivable_id", HASH, nullable=False),
        sa.Column("value", Uint256(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "valid_from_block", name="pk_declarations"),
    )
    create_version_indexes("declarations", "fingerprint")
    op.create_index("ix_declarations_receivable_id", "declarations", ["receivable_id"])

    op.create_table(
        "financings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("receivable_id", HASH, nullable=False),
        sa.Column("bank", ADDRESS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("outstanding_after", Uint256(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_financings"),
        sa.UniqueConstraint("block_number", "log_index", name="uq_financings_block_log"),
    )
    op.create_index("ix_financings_receivable_id", "financings", ["receivable_id"])
    op.create_index("ix_financings_bank", "financings", ["bank"])

    op.create_table(
        "api_keys",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("institution", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("account", ADDRESS, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key_hash", name="pk_api_keys"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes with it.
    for table in (
        "api_keys",
        "financings",
        "declarations",
        "receivables",
        "events",
        "indexed_blocks",
        "indexer_cursor",
    ):
        op.drop_table(table)
