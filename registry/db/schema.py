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
versions; ``refused_attempts`` (refusals the chain recorded), ``read_log_anchors`` (anchored
batches never change) and ``events`` likewise.

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
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from registry.db.types import Uint256

__all__ = [
    "VERSIONED",
    "advance_rates",
    "api_keys",
    "consents",
    "contract_code",
    "declaration_attestations",
    "declarations",
    "enterprise_bindings",
    "events",
    "financings",
    "idempotency_keys",
    "indexed_blocks",
    "indexer_cursor",
    "indexer_progress",
    "institution_assignments",
    "metadata",
    "pledges",
    "properties",
    "read_log_anchors",
    "receivables",
    "refused_attempts",
    "role_grants",
    "seizures",
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
        # end after it: both are range scans on these. The second holds ended versions only: a
        # range (valid_to_block > B) implies NOT NULL, so both databases still use it there, and
        # SQLite, which keeps no statistics, cannot mistake it for a good way to find current
        # versions (with NULLs in it, it chose it for "current AND receivable_id IN (...)" and
        # scanned every current row per query), nor does each new current version add to it.
        Index(f"ix_{table}_valid_from_block", "valid_from_block"),
        Index(
            f"ix_{table}_valid_to_block",
            "valid_to_block",
            sqlite_where=text("valid_to_block IS NOT NULL"),
            postgresql_where=text("valid_to_block IS NOT NULL"),
        ),
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
    # A uint64 the registering bank chooses freely: beyond a signed 64-bit column's range.
    Column("maturity", Uint256, nullable=False),
    # The verified rate in force at registration (the event's). The cap is not stored: it follows
    # the policy and the attestations of every later block, and a read computes it from those
    # (registry.db.read.with_caps), as the contract's getReceivable does.
    Column("advance_rate_bps", Integer, nullable=False),
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
    Column("value", Uint256, nullable=False),  # declared with the invoice
    # Its index in the receivable's list, from 0: drawdowns and repayments name it by this.
    Column("list_index", Integer, nullable=False),
    # "unverified", "verified" or "exporter_mismatch", and what it counts for the invoice: the
    # declared value, the attested one where lower, 0 when attested for another exporter.
    Column("standing", String(24), nullable=False),
    Column("counted_value", Uint256, nullable=False),
    Column("outstanding", Uint256, nullable=False),  # financing drawn against it
    PrimaryKeyConstraint("fingerprint", "valid_from_block"),
)

# A verifier's attestation of a declaration, whether or not it backs an invoice (it may come
# before the declaration is presented); a correction is a new version.
declaration_attestations = Table(
    "declaration_attestations",
    metadata,
    Column("fingerprint", HASH, nullable=False),
    *_versions("declaration_attestations", "fingerprint"),
    Column("exporter", HASH, nullable=False, index=True),
    Column("attested_value", Uint256, nullable=False),
    Column("export_date", BigInteger, nullable=False),
    Column("verifier", ADDRESS, nullable=False),
    PrimaryKeyConstraint("fingerprint", "valid_from_block"),
)

# The ledger's advance-rate policy, one entity per ledger contract. Every live receivable's cap
# follows it (the contract applies the rates in force at each drawdown; reads of the index too).
advance_rates = Table(
    "advance_rates",
    metadata,
    Column("contract", ADDRESS, nullable=False),
    *_versions("advance_rates", "contract"),
    Column("verified_bps", Integer, nullable=False),
    Column("unverified_bps", Integer, nullable=False),
    Column("admin", ADDRESS, nullable=False),
    PrimaryKeyConstraint("contract", "valid_from_block"),
)

# Attempts to double- or over-finance that a rule refused and the chain recorded (append-only):
# who tried (account, institution), which document, why.
refused_attempts = Table(
    "refused_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("block_number", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    Column("contract", ADDRESS, nullable=False),
    Column("action", String(16), nullable=False),  # "register" or "finance"
    Column("reason", String(48), nullable=False),  # the rule, as the API names it
    Column("receivable_id", HASH, nullable=False, index=True),
    # The invoice, or the declaration that broke the rule.
    Column("document", HASH, nullable=False, index=True),
    Column("institution", HASH, nullable=False, index=True),
    Column("account", ADDRESS, nullable=False),
    Column("amount", Uint256, nullable=False),  # face value presented, or drawdown asked
    # Registrations: the other invoice, the attested exporter or the institution holding it.
    Column("conflict", HASH, nullable=True),
    # Drawdowns: the headroom left, and the account of the bank holding the financing.
    Column("headroom", Uint256, nullable=True),
    Column("financier", ADDRESS, nullable=True),
    UniqueConstraint("block_number", "log_index", name="uq_refused_attempts_block_log"),
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
    "declaration_attestations": (declaration_attestations, "fingerprint"),
    "advance_rates": (advance_rates, "contract"),
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
    # A revoked key stays, so that the table tells which keys existed and why they stopped
    # working; the lookup ignores it, and storing the secrets file's keys never revives it.
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_reason", String(200), nullable=True),
)


idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # One bank's keys never meet another's: the key is the client's, scoped by who sent it.
    Column("institution", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    # SHA-256 of the method, path and body: a key sent again with another request is refused.
    Column("request_digest", String(64), nullable=False),
    # Who is answering it now ("<host>:<pid>:<process start>"); NULL once answered or given up.
    Column("owner", String(128), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    # The transaction signed for it, kept before it is sent, so that a successor can follow it.
    Column("tx_hash", String(66), nullable=True),
    Column("tx_sender", ADDRESS, nullable=True),
    Column("tx_nonce", BigInteger, nullable=True),
    # Which call of a grouped transaction was this request's (registry.chain.grouping); NULL when
    # the transaction was its alone.
    Column("tx_part", Integer, nullable=True),
    # The answer, once there is one: replayed as it was to every retry.
    Column("status_code", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("response_headers", Text, nullable=True),
    # The block the answer waits for the index to reach (read your writes), if it wrote.
    Column("tx_block", BigInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("answered_at", DateTime(timezone=True), nullable=True),
)


# --- Pledges, consents and access (PledgeRegistry, ConsentRegistry, and the roles of every
# contract). Keys of several parts are those parts joined by "/", e.g. a consent's
# "<enterprise>/<grantee institution>/<scope>": the versioned tables key an entity by one column.
# Values that an outside party chooses freely as uint64 or wider (a maturity, an expiry, a nonce,
# read-log entry numbers) are Uint256: "never" spelled as 2**64 - 1 must not stop the index.

properties = Table(
    "properties",
    metadata,
    Column("fingerprint", HASH, nullable=False),
    *_versions("properties", "fingerprint"),
    Column("status", String(16), nullable=False, index=True),  # "normal" or "seized"
    Column("registrar", ADDRESS, nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("appraised_value", Uint256, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("max_ltv_bps", Integer, nullable=False),
    # The sum of the active pledges' amounts, and what a new pledge could be approved for now
    # (appraisal x LTV - secured, floored at 0; 0 while seized), as the contract computes them.
    Column("secured_amount", Uint256, nullable=False),
    Column("headroom", Uint256, nullable=False),
    Column("applications", BigInteger, nullable=False),
    Column("seizures", BigInteger, nullable=False),  # seizures in force (seized while above 0)
    Column("registered_block", BigInteger, nullable=False),
    PrimaryKeyConstraint("fingerprint", "valid_from_block"),
)

# Each court's seizure of a property, under its case: several may be in force at once, and only
# the seizing court (or the admin) lifts one.
seizures = Table(
    "seizures",
    metadata,
    Column("id", String(140), nullable=False),  # "<property>/<case_ref>"
    *_versions("seizures", "id"),
    Column("property", HASH, nullable=False, index=True),
    Column("case_ref", HASH, nullable=False),
    Column("court", HASH, nullable=False, index=True),  # the seizing institution
    Column("status", String(16), nullable=False),  # "in_force" or "lifted"
    Column("imposed_by", ADDRESS, nullable=False),
    Column("lifted_by", ADDRESS, nullable=True),
    PrimaryKeyConstraint("id", "valid_from_block"),
)


pledges = Table(
    "pledges",
    metadata,
    Column("id", HASH, nullable=False),
    *_versions("pledges", "id"),
    Column("property", HASH, nullable=False, index=True),
    Column("sequence", BigInteger, nullable=False),  # the application's number on the property
    Column("lender", ADDRESS, nullable=False, index=True),  # the account that applied
    Column("institution", HASH, nullable=False, index=True),  # the pledgee bank
    Column("amount", Uint256, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("maturity", Uint256, nullable=False),
    # "pending", "active", "rejected" or "released" (the contract's enum names).
    Column("status", String(16), nullable=False, index=True),
    # 1 is paid first; versioned like the rest, since juniors move up when a senior is released.
    # NULL unless active.
    Column("rank", Integer, nullable=True),
    Column("reason_code", Integer, nullable=True),  # why it was rejected; NULL unless rejected
    Column("decided_by", ADDRESS, nullable=True),  # the registrar that approved or rejected it
    Column("released_by", ADDRESS, nullable=True),
    Column("applied_block", BigInteger, nullable=False),
    PrimaryKeyConstraint("id", "valid_from_block"),
)

enterprise_bindings = Table(
    "enterprise_bindings",
    metadata,
    Column("enterprise", HASH, nullable=False),  # the USCC fingerprint
    *_versions("enterprise_bindings", "enterprise"),
    # The bound account; kept after unbinding (bound false), as the contract keeps it.
    Column("account", ADDRESS, nullable=False, index=True),
    Column("key_version", Integer, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("bound", Boolean, nullable=False),
    Column("registrar", ADDRESS, nullable=False),  # who made the last change
    PrimaryKeyConstraint("enterprise", "valid_from_block"),
)

consents = Table(
    "consents",
    metadata,
    Column("id", String(200), nullable=False),  # "<enterprise>/<grantee institution>/<scope>"
    *_versions("consents", "id"),
    Column("enterprise", HASH, nullable=False, index=True),
    Column("grantee_institution", HASH, nullable=False, index=True),
    Column("scope", HASH, nullable=False),
    # "granted" or "revoked": the last message applied. Active also needs an expiry in the
    # future and an epoch that is the enterprise's current, bound one (see enterprise_bindings).
    Column("status", String(16), nullable=False),
    Column("expiry", Uint256, nullable=False),  # of the last grant, kept after a revocation
    Column("nonce", Uint256, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("signer", ADDRESS, nullable=False),
    Column("relayer", ADDRESS, nullable=False),
    PrimaryKeyConstraint("id", "valid_from_block"),
)

role_grants = Table(
    "role_grants",
    metadata,
    Column("id", String(160), nullable=False),  # "<contract>/<role>/<account>"
    *_versions("role_grants", "id"),
    Column("contract", ADDRESS, nullable=False, index=True),
    Column("role", HASH, nullable=False),
    Column("role_name", String(32), nullable=True),  # e.g. "LENDER_ROLE"; NULL for an unknown role
    Column("account", ADDRESS, nullable=False, index=True),
    Column("status", String(16), nullable=False),  # "granted" or "revoked"
    Column("granted_by", ADDRESS, nullable=False),
    Column("revoked_by", ADDRESS, nullable=True),
    PrimaryKeyConstraint("id", "valid_from_block"),
)

institution_assignments = Table(
    "institution_assignments",
    metadata,
    # "<contract>/<account>". An account without a current row acts for itself, as on chain.
    Column("id", String(90), nullable=False),
    *_versions("institution_assignments", "id"),
    Column("contract", ADDRESS, nullable=False),
    Column("account", ADDRESS, nullable=False),
    Column("institution", HASH, nullable=False, index=True),
    Column("assigned_by", ADDRESS, nullable=False),
    PrimaryKeyConstraint("id", "valid_from_block"),
)

contract_code = Table(
    "contract_code",
    metadata,
    # One entity per proxy (every contract of a deployment): the code it runs, from the block of
    # the upgrade that set it.
    Column("contract", ADDRESS, nullable=False),
    *_versions("contract_code", "contract"),
    Column("implementation", ADDRESS, nullable=False),
    PrimaryKeyConstraint("contract", "valid_from_block"),
)

read_log_anchors = Table(
    "read_log_anchors",
    metadata,
    # Append-only, like financings: an anchored batch never changes.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contract", ADDRESS, nullable=False),
    Column("batch_index", BigInteger, nullable=False),
    Column("merkle_root", HASH, nullable=False),
    Column("first_entry", Uint256, nullable=False),
    Column("last_entry", Uint256, nullable=False),
    Column("operator", ADDRESS, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    UniqueConstraint("contract", "batch_index", name="uq_read_log_anchors_batch"),
    UniqueConstraint("block_number", "log_index", name="uq_read_log_anchors_block_log"),
)

VERSIONED.update(
    {
        "properties": (properties, "fingerprint"),
        "pledges": (pledges, "id"),
        "seizures": (seizures, "id"),
        "enterprise_bindings": (enterprise_bindings, "enterprise"),
        "consents": (consents, "id"),
        "role_grants": (role_grants, "id"),
        "institution_assignments": (institution_assignments, "id"),
        "contract_code": (contract_code, "contract"),
    }
)


# The indexer's progress (the speed the status endpoint and the metrics report), one row per chunk
# written, in the chunk's transaction. It describes how the index was built, not the chain: no two
# indexes of one chain share it, and the canonical dump (registry.audit.canonical) leaves it out.
# Rows older than the rate window are pruned; the running totals on the newest row survive that.
indexer_progress = Table(
    "indexer_progress",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cursor_name", String(64), nullable=False),
    Column("first_block", BigInteger, nullable=False),
    Column("last_block", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
    Column("seconds", Float, nullable=False),  # reading, decoding and writing the chunk
    Column("events_total", BigInteger, nullable=False),
    Column("steps_total", BigInteger, nullable=False),
    Column("seconds_total", Float, nullable=False),
    # Cumulative step counts per bound of registry.indexer.progress.STEP_BUCKETS (a histogram).
    Column("step_buckets", JSON, nullable=False),
    Column("committed_at", DateTime(timezone=True), nullable=False),
    Index("ix_indexer_progress_cursor_name_committed_at", "cursor_name", "committed_at"),
)
