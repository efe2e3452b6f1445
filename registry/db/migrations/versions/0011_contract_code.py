"""Contracts behind proxies: ``contract_code``, which code each contract runs since which block.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

Every contract now runs behind an ERC-1967 proxy and is upgraded in place (its records stay where
they are), so the index keeps the implementation each proxy's ``Upgraded`` events named. An index
of a deployment made before proxies is not meant to follow one made after: that deployment is new.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

ADDRESS = sa.String(42)
CURRENT = sa.text("valid_to_block IS NULL")
ENDED = sa.text("valid_to_block IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "contract_code",
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("valid_from_block", sa.BigInteger(), nullable=False),
        sa.Column("valid_to_block", sa.BigInteger(), nullable=True),
        sa.Column("implementation", ADDRESS, nullable=False),
        sa.PrimaryKeyConstraint("contract", "valid_from_block", name="pk_contract_code"),
    )
    op.create_index(
        "uq_contract_code_current",
        "contract_code",
        ["contract"],
        unique=True,
        sqlite_where=CURRENT,
        postgresql_where=CURRENT,
    )
    op.create_index("ix_contract_code_valid_from_block", "contract_code", ["valid_from_block"])
    op.create_index(
        "ix_contract_code_valid_to_block",
        "contract_code",
        ["valid_to_block"],
        sqlite_where=ENDED,
        postgresql_where=ENDED,
    )


def downgrade() -> None:
    op.drop_table("contract_code")
