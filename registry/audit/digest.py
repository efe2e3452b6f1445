"""A digest of an index: one hash two parties can compare without sharing a row.

The hash is SHA-256 over the canonical form (:mod:`registry.audit.canonical`) of the tables whose
rows come from the chain (events and projections), as of one block, so two indexes at different
heights compare as of the lower one. Each table is hashed on its own (its name, its column names,
then each sorted row as canonical JSON text, one per line), and the digest hashes the tables'
names and hashes in name order; the per-table hashes say which table differs, still without
showing a row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from registry.audit.canonical import CanonicalTable, index_tables, row_text

__all__ = ["DIGEST_VERSION", "IndexDigest", "digest_index", "digest_tables"]

DIGEST_VERSION = 1
"""Part of what is hashed: a change of the canonical form changes every digest."""


@dataclass(frozen=True)
class IndexDigest:
    """The digest of an index as of ``block`` (None: all it holds)."""

    block: int | None
    digest: str
    """``0x``-hex SHA-256."""
    tables: Mapping[str, str]
    """Each table's own hash."""
    rows: Mapping[str, int]
    """Each table's row count."""

    def to_json(self) -> dict[str, object]:
        return {
            "block": self.block,
            "digest": self.digest,
            "version": DIGEST_VERSION,
            "tables": {
                name: {"digest": self.tables[name], "rows": self.rows[name]}
                for name in sorted(self.tables)
            },
        }


def _table_hash(table: CanonicalTable) -> str:
    hasher = hashlib.sha256()
    hasher.update(f"{table.name}\n{','.join(table.columns)}\n".encode())
    for row in table.rows:
        hasher.update(row_text(row).encode())
        hasher.update(b"\n")
    return "0x" + hasher.hexdigest()


def digest_tables(tables: Mapping[str, CanonicalTable], block: int | None) -> IndexDigest:
    """The digest of canonical ``tables``."""
    hashes = {name: _table_hash(tables[name]) for name in sorted(tables)}
    overall = hashlib.sha256(f"creditreg index digest v{DIGEST_VERSION}\n".encode())
    for name, table_hash in hashes.items():
        overall.update(f"{name} {table_hash}\n".encode())
    return IndexDigest(
        block=block,
        digest="0x" + overall.hexdigest(),
        tables=hashes,
        rows={name: len(tables[name].rows) for name in hashes},
    )


def digest_index(engine: sa.Engine, as_of: int | None = None) -> IndexDigest:
    """The digest of the index behind ``engine`` as of block ``as_of`` (None: all it holds)."""
    return digest_tables(index_tables(engine, as_of), as_of)
