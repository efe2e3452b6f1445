"""Concurrent seizures: ``properties.seizures`` (a count) and the ``seizures`` projection.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

A property was seized under one case at a time, kept in ``properties.case_ref``, and any court could
lift it. Several courts may now seize the same property, each under its own case, and only the
seizing court (or the admin) lifts its seizure: the property keeps a count of the seizures in force,
and each seizure is an entity of its own, with the court that imposed it.

The index is rebuilt from the chain's events, and the contracts that emit the new events are a new
deployment: existing rows are carried over as they stand (a seized property counts one seizure),
but an index of a deployment of the older contracts is not meant to follow them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

HASH = sa.String(66)
ADDRESS = sa.String(42)
CURRENT = sa.text("valid_to_block IS NULL")
ENDED = sa.text("valid_to_block IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("properties") as batch:
        batch.add_column(sa.Column("seizures", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE properties SET seizures = 1 WHERE status = 'seized'")
    with op.batch_alter_table("properties") as batch:
        batch.alter_column("seizures", existing_type=sa.BigInteger(), server_default=None)
        batch.drop_column("case_ref")

    op.create_table(
        "seizures",
        sa.Column("id", sa.String(140), nullable=False),
        sa.Column("valid_from_block", sa.BigInteger(), nullable=False),
        sa.Column("valid_to_block", sa.BigInteger(), nullable=True),
        sa.Column("property", HASH, nullable=False),
        sa.Column("case_ref", HASH, nullable=False),
        sa.Column("court", HASH, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("imposed_by", ADDRESS, nullable=False),
        sa.Column("lifted_by", ADDRESS, nullable=True),
        sa.PrimaryKeyConstraint("id", "valid_from_block", name="pk_seizures"),
    )
    op.create_index(
        "uq_seizures_current",
        "seizures",
        ["id"],
        unique=True,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )
    op.create_index("ix_seizures_valid_from_block", "seizures", ["valid_from_block"])
    op.create_index(
        "ix_seizures_valid_to_block",
        "seizures",
        ["valid_to_block"],
        sqlite_where=ENDED,
        postgresql_where=ENDED,
    )
    op.create_index("ix_seizures_property", "seizures", ["property"])
    op.create_index("ix_seizures_court", "seizures", ["court"])


def downgrade() -> None:
    op.drop_table("seizures")
    with op.batch_alter_table("properties") as batch:
        batch.add_column(sa.Column("case_ref", HASH, nullable=True))
        batch.drop_column("seizures")
