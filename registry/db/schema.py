"""Tables of the off-chain index, and of the API's own records (API keys).

Event rows are the record of what the chain said; the projection tables (receivables, declarations,
financings) are derived from them alone and can be rebuilt by replaying the events.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
)

from registry.db.types import Uint256

__all__ = [
    "api_keys",
    "declarations",
    "events",
    "financings",
    "indexer_cursor",
    "metadata",
    "receivables",
]

metadata = MetaData()

HASH = String(66)  # 0x-prefixed 32-byte hex
ADDRESS = String(42)  # 0x-prefixed checksum address

indexer_cursor = Table(
    "indexer_cursor",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", HASH, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("block_number", BigInteger, nullable=False, index=True),
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

receivables = Table(
    "receivables",
    metadata,
    Column("id", HASH, primary_key=True),
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
    Column("updated_block", BigInteger, nullable=False),
)

declarations = Table(
    "declarations",
    metadata,
    Column("fingerprint", HASH, primary_key=True),
    Column("receivable_id", HASH, nullable=False, index=True),
    Column("value", Uint256, nullable=False),
    Column("linked_block", BigInteger, nullable=False),
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
