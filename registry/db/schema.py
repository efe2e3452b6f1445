"""Tables of the off-chain index, and of the API's own records (API keys).

Event rows are the record of what the chain said; the projection tables are derived from them alone
and can be rebuilt by replaying the events.

Projections are *versioned*, so that any of them can be read as of a past block (credit reports
"as of" a date, auditors): a row is one version of an entity, valid from the block of the event
that produced it (``valid_from_block``, inclusive) to the block of the event that replaced or
removed it (``valid_to_block``, exclusive; NULL while current). Several changes to one entity in
one block make one version, the state at the end of that block, since nothing on chain can observe
a state in the middle of a block by number. Current reads filter ``valid_to_block IS NULL``; reads
as of block B filter ``valid_from_block <= B AND (valid_to_block IS NULL OR valid_to_block > B)``
(:mod:`registry.db.read`). A partial unique index on the entity key among current versions is
the safety net that two versions are never current at once.

``financings`` is append-only (one row per drawdown or repayment, at its block), so it needs no
versions; ``events`` likewise.

``indexed_blocks`` holds the hashes the indexer has seen (blocks that carried events, and recent
chunk ends); the reorg rollback looks for the common ancestor among them (see
:mod:`registry.indexer.runner`).

Changes to these tables go through Alembic revisions in ``registry/db/migrations``; the tests
check that upgrading to head yields exactly this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)

from registry.db.types import Uint256

__all__ = [
    "VERSIONED",
    "api_keys",
    "declarations",
    "events",
    "financings",
    "indexed_blocks",
    "indexer_cursor",
    "metadata",
    "receivables",
]

# Constraint names are spelled out so that migrations can name what they alter on every dialect.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

HASH = String(66)  # 0x-prefixed 32-byte hex
ADDRESS = String(42)  # 0x-prefixed checksum address

indexer_cursor = Table(
    "indexer_cursor",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", HASH, nullable=False),
    # Reorganizations rolled back, kept here so that another process (the API) can report them.
    Column("reorgs", Integer, nullable=False, server_default="0"),
    # Blocks the last rollback un-indexed: from the replaced cursor down to the common ancestor.
    Column("last_reorg_depth", Integer, nullable=True),
    Column("last_reorg_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

indexed_blocks = Table(
    "indexed_blocks",
    metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", HASH, nullable=False),
    Column("events", Integer, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Lookups by block use the unique index below, which starts with block_number.
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", HASH, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    Column("tx_index", Integer, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("contract", ADDRESS, nullable=False),
    Column("event", String(64), nullable=False, index=True),
    Column("args", JSON, nullable=False),
    # log_index counts from the start of the block on every node, so it identifies a log in a block.
    UniqueConstraint("block_number", "log_index", name="uq_events_block_log"),
)


def _versions(table: str, key: str) -> tuple[Column[int], Column[int | None], Index, Index, Index]:
    """The version columns; a unique index on ``key`` among current versions; the indexes of a
    rollback."""
    return (
        Column("valid_from_block", BigInteger, nullable=False),
        Column("valid_to_block", BigInteger, nullable=True),
        Index(
            f"uq_{table}_current",
            key,
            unique=True,
            sqlite_where=text("valid_to_block IS NULL"),
            postgresql_where=text("valid_to_block IS NULL"),
        ),
        # A rollback deletes the versions that start after the ancestor and reopens those that
        # end after it: both are range scans on these.
        Index(f"ix_{table}_valid_from_block", "valid_from_block"),
        Index(f"ix_{table}_valid_to_block", "valid_to_block"),
    )


receivables = Table(
    "receivables",
    metadata,
    Column("id", HASH, nullable=False),
    *_versions("receivables", "id"),
    Column("status", String(16), nullable=False, index=True),
    Column("registrant", ADDRESS, nullable=False, index=True),
    Column("exporter", HASH, nullable=False, index=True),
    Column("key_version", Integer, nullable=False),
    Column("face_value", Uint256, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("maturity", BigInteger, nullable=False),
    Column("advance_rate_bps", Integer, nullable=False),
    Column("cap", Uint256, nullable=False),
    Column("declared_value", Uint256, nullable=False),
    Column("outstanding", Uint256, nullable=False),
    Column("financier", ADDRESS, nullable=True),
    Column("registered_block", BigInteger, nullable=False),
    # The key leads, so that one entity's versions are one index range.
    PrimaryKeyConstraint("id", "valid_from_block"),
)

declarations = Table(
    "declarations",
    metadata,
    Column("fingerprint", HASH, nullable=False),
    *_versions("declarations", "fingerprint"),
    Column("receivable_id", HASH, nullable=False, index=True),
    Column("value", Uint256, nullable=False),
    PrimaryKeyConstraint("fingerprint", "valid_from_block"),
)

financings = Table(
    "financings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("receivable_id", HASH, nullable=False, index=True),
    Column("bank", ADDRESS, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # "drawdown" or "repayment"
    Column("amount", Uint256, nullable=False),
    Column("outstanding_after", Uint256, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    UniqueConstraint("block_number", "log_index", name="uq_financings_block_log"),
)

VERSIONED: dict[str, tuple[Table, str]] = {
    "receivables": (receivables, "id"),
    "declarations": (declarations, "fingerprint"),
}
"""The versioned projections, with the column that names their entity."""

api_keys = Table(
    "api_keys",
    metadata,
    # SHA-256 of the key: keys are 256-bit random tokens, so a fast hash is enough to make a stolen
    # table useless, and lookups stay one indexed equality.
    Column("key_hash", String(64), primary_key=True),
    Column("institution", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("account", ADDRESS, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
