"""Pledges, consents and access: properties, pledges, enterprise bindings, consents, role grants,
institution assignments (versioned) and read-log anchors (append-only).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
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

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _indexes(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    op.create_table(
        "properties",
        sa.Column("fingerprint", HASH, nullable=False),
        *version_columns(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("registrar", ADDRESS, nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("appraised_value", Uint256(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("max_ltv_bps", sa.Integer(), nullable=False),
        sa.Column("secured_amount", Uint256(), nullable=False),
        sa.Column("headroom", Uint256(), nullable=False),
        sa.Column("applications", sa.BigInteger(), nullable=False),
        sa.Column("case_ref", HASH, nullable=True),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "valid_from_block", name="pk_properties"),
    )
    create_version_indexes("properties", "fingerprint")
    _indexes("properties", "status")

    op.create_table(
        "pledges",
        sa.Column("id", HASH, nullable=False),
        *version_columns(),
        sa.Column("property", HASH, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("lender", ADDRESS, nullable=False),
        sa.Column("institution", HASH, nullable=False),
        sa.Column("amount", Uint256(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("maturity", Uint256(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("reason_code", sa.Integer(), nullable=True),
        sa.Column("decided_by", ADDRESS, nullable=True),
        sa.Column("released_by", ADDRESS, nullable=True),
        sa.Column("applied_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", "valid_from_block", name="pk_pledges"),
    )
    create_version_indexes("pledges", "id")
    _indexes("pledges", "property", "lender", "institution", "status")

    op.create_table(
        "enterprise_bindings",
        sa.Column("enterprise", HASH, nullable=False),
        *version_columns(),
        sa.Column("account", ADDRESS, nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("bound", sa.Boolean(), nullable=False),
        sa.Column("registrar", ADDRESS, nullable=False),
        sa.PrimaryKeyConstraint("enterprise", "valid_from_block", name="pk_enterprise_bindings"),
    )
    create_version_indexes("enterprise_bindings", "enterprise")
    _indexes("enterprise_bindings", "account")

    op.create_table(
        "consents",
        sa.Column("id", sa.String(200), nullable=False),
        *version_columns(),
        sa.Column("enterprise", HASH, nullable=False),
        sa.Column("grantee_institution", HASH, nullable=False),
        sa.Column("scope", HASH, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expiry", Uint256(), nullable=False),
        sa.Column("nonce", Uint256(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("signer", ADDRESS, nullable=False),
        sa.Column("relayer", ADDRESS, nullable=False),
        sa.PrimaryKeyConstraint("id", "valid_from_block", name="pk_consents"),
    )
    create_version_indexes("consents", "id")
    _indexes("consents", "enterprise", "grantee_institution")

    op.create_table(
        "role_grants",
        sa.Column("id", sa.String(160), nullable=False),
        *version_columns(),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("role", HASH, nullable=False),
        sa.Column("role_name", sa.String(32), nullable=True),
        sa.Column("account", ADDRESS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("granted_by", ADDRESS, nullable=False),
        sa.Column("revoked_by", ADDRESS, nullable=True),
        sa.PrimaryKeyConstraint("id", "valid_from_block", name="pk_role_grants"),
    )
    create_version_indexes("role_grants", "id")
    _indexes("role_grants", "contract", "account")

    op.create_table(
        "institution_assignments",
        sa.Column("id", sa.String(90), nullable=False),
        *version_columns(),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("account", ADDRESS, nullable=False),
        sa.Column("institution", HASH, nullable=False),
        sa.Column("assigned_by", ADDRESS, nullable=False),
        sa.PrimaryKeyConstraint("id", "valid_from_block", name="pk_institution_assignments"),
    )
    create_version_indexes("institution_assignments", "id")
    _indexes("institution_assignments", "institution")

    op.create_table(
        "read_log_anchors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("batch_index", sa.BigInteger(), nullable=False),
        sa.Column("merkle_root", HASH, nullable=False),
        sa.Column("first_entry", Uint256(), nullable=False),
        sa.Column("last_entry", Uint256(), nullable=False),
        sa.Column("operator", ADDRESS, nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_read_log_anchors"),
        sa.UniqueConstraint("contract", "batch_index", name="uq_read_log_anchors_batch"),
        sa.UniqueConstraint("block_number", "log_index", name="uq_read_log_anchors_block_log"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes with it.
    for table in (
        "read_log_anchors",
        "institution_assignments",
        "role_grants",
        "consents",
        "enterprise_bindings",
        "pledges",
        "properties",
    ):
        op.drop_table(table)
