"""Receivable policy: per-declaration balances and standing, attestations, advance rates (versioned)
and refused attempts (append-only).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

The new ``declarations`` columns are NOT NULL. A database indexed from an older ledger holds rows
without them; they get neutral values (list index 0, unverified, counted at the declared value,
nothing outstanding) only so that the columns can be added, since an index belongs to one
deployment and one of the new ledger is rebuilt from its own events.
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

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("declarations") as batch:
        batch.add_column(sa.Column("list_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("standing", sa.String(24), nullable=True))
        batch.add_column(sa.Column("counted_value", Uint256(), nullable=True))
        batch.add_column(sa.Column("outstanding", Uint256(), nullable=True))
    declarations = sa.table(
        "declarations",
        sa.column("value", Uint256()),
        sa.column("list_index", sa.Integer()),
        sa.column("standing", sa.String(24)),
        sa.column("counted_value", Uint256()),
        sa.column("outstanding", Uint256()),
    )
    op.execute(
        declarations.update().values(
            list_index=0,
            standing="unverified",
            counted_value=declarations.c.value,
            outstanding=sa.literal(0, Uint256()),
        )
    )
    with op.batch_alter_table("declarations") as batch:
        for name, kind in (
            ("list_index", sa.Integer()),
            ("standing", sa.String(24)),
            ("counted_value", Uint256()),
            ("outstanding", Uint256()),
        ):
            batch.alter_column(name, existing_type=kind, nullable=False)

    op.create_table(
        "declaration_attestations",
        sa.Column("fingerprint", HASH, nullable=False),
        *version_columns(),
        sa.Column("exporter", HASH, nullable=False),
        sa.Column("attested_value", Uint256(), nullable=False),
        sa.Column("export_date", sa.BigInteger(), nullable=False),
        sa.Column("verifier", ADDRESS, nullable=False),
        sa.PrimaryKeyConstraint(
            "fingerprint", "valid_from_block", name="pk_declaration_attestations"
        ),
    )
    create_version_indexes("declaration_attestations", "fingerprint")
    op.create_index(
        "ix_declaration_attestations_exporter", "declaration_attestations", ["exporter"]
    )

    op.create_table(
        "advance_rates",
        sa.Column("contract", ADDRESS, nullable=False),
        *version_columns(),
        sa.Column("verified_bps", sa.Integer(), nullable=False),
        sa.Column("unverified_bps", sa.Integer(), nullable=False),
        sa.Column("admin", ADDRESS, nullable=False),
        sa.PrimaryKeyConstraint("contract", "valid_from_block", name="pk_advance_rates"),
    )
    create_version_indexes("advance_rates", "contract")

    op.create_table(
        "refused_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", HASH, nullable=False),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(48), nullable=False),
        sa.Column("receivable_id", HASH, nullable=False),
        sa.Column("document", HASH, nullable=False),
        sa.Column("institution", HASH, nullable=False),
        sa.Column("account", ADDRESS, nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("conflict", HASH, nullable=True),
        sa.Column("headroom", Uint256(), nullable=True),
        sa.Column("financier", ADDRESS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refused_attempts"),
        sa.UniqueConstraint("block_number", "log_index", name="uq_refused_attempts_block_log"),
    )
    for column in ("receivable_id", "document", "institution"):
        op.create_index(f"ix_refused_attempts_{column}", "refused_attempts", [column])


def downgrade() -> None:
    # Dropping a table drops its indexes with it.
    for table in ("refused_attempts", "advance_rates", "declaration_attestations"):
        op.drop_table(table)
    with op.batch_alter_table("declarations") as batch:
        for column in ("outstanding", "counted_value", "standing", "list_index"):
            batch.drop_column(column)
