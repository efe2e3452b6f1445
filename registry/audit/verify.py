"""Verify: the live index, a fresh replay and the contracts' own views, compared record by record.

At one block, the live index's cursor (so that a chain moving on meanwhile causes no false
difference; a cursor the chain no longer has is refused: run the indexer first):

1. the replay (:mod:`registry.audit.replay`, into a temporary SQLite database unless a database is
   given) and the live index are compared table by table, as of that block, on every row of every
   table whose rows come from the chain (:func:`registry.audit.canonical.index_tables`), rows
   paired by their key so that a difference names the record and the field;
2. every check of :data:`CHECKS` (:mod:`registry.audit.checks`) compares a projection with the
   contracts' views or the chain's logs, for every key either side names;
3. both digests (:mod:`registry.audit.digest`) are computed as of the block.

Nothing is sampled. The report says, per projection, how many records were compared and which
differ; :attr:`VerifyReport.ok` is false on any difference.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from registry.audit import (
    access_checks,
    code_checks,
    consent_checks,
    ledger_checks,
    log_checks,
    pledge_checks,
)
from registry.audit.canonical import CanonicalTable, index_tables
from registry.audit.checks import (
    Check,
    CheckResult,
    Record,
    VerifyContext,
    checks_by_name,
    compare,
)
from registry.audit.digest import IndexDigest, digest_tables
from registry.audit.replay import ReplaySummary, ensure_fresh, replay
from registry.chain.client import Chain
from registry.contracts.deploy import Deployment
from registry.db import opened_engine
from registry.db.schema import VERSIONED
from registry.errors import ConfigurationError
from registry.indexer import CURSOR_NAME, block_hash, read_cursor

__all__ = ["CHECKS", "VerifyReport", "compare_indexes", "verify"]

CHECKS: Mapping[str, Check] = checks_by_name(
    *log_checks.CHECKS,
    *ledger_checks.CHECKS,
    *pledge_checks.CHECKS,
    *consent_checks.CHECKS,
    *access_checks.CHECKS,
    *code_checks.CHECKS,
)
"""Every check the verification runs, by name, in this order: each contract's module of checks
listed here, the one place where a check joins the verification."""

REPLAY = "replay"


@dataclass(frozen=True)
class VerifyReport:
    block: int
    block_hash: str
    live_digest: IndexDigest
    replay_digest: IndexDigest
    replay: ReplaySummary | None
    """The replay made for this verification; None when an existing one was given."""
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return self.live_digest.digest == self.replay_digest.digest and all(
            result.ok for result in self.results
        )

    @property
    def differences(self) -> int:
        return sum(len(result.differences) for result in self.results)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "block": self.block,
            "block_hash": self.block_hash,
            "live_digest": self.live_digest.to_json(),
            "replay_digest": self.replay_digest.to_json(),
            "replay": None if self.replay is None else self.replay.to_json(),
            "checks": [result.to_json() for result in self.results],
            "differences": [
                difference.to_json() for result in self.results for difference in result.differences
            ],
        }


def _key_columns(table: CanonicalTable) -> tuple[str, ...]:
    """The columns that name a row: a version's entity and first block, an appended row's place
    on the chain; else the whole row."""
    if table.name in VERSIONED:
        return (VERSIONED[table.name][1], "valid_from_block")
    if {"block_number", "log_index"} <= set(table.columns):
        return ("block_number", "log_index")
    return table.columns


def _records(
    table: CanonicalTable | None, key_columns: tuple[str, ...]
) -> dict[str, Record | None]:
    records: dict[str, Record | None] = {}
    if table is None:
        return records
    for row in table.rows:
        values = dict(zip(table.columns, row, strict=True))
        key = " ".join(f"{column}={values.get(column)}" for column in key_columns)
        while key in records:  # a row held twice is a record of its own
            key += " (again)"
        records[key] = values
    return records


def compare_indexes(
    live: Mapping[str, CanonicalTable], other: Mapping[str, CanonicalTable], source: str = REPLAY
) -> list[CheckResult]:
    """One result per table: the live index's rows against ``other``'s, paired by key."""
    results = []
    for name in sorted(set(live) | set(other)):
        shape = live.get(name) or other[name]
        key_columns = _key_columns(shape)
        results.append(
            compare(
                name,
                "(index)",
                source,
                _records(live.get(name), key_columns),
                _records(other.get(name), key_columns),
            )
        )
    return results


def _check_cursor_on_chain(chain: Chain, block: int, expected: str) -> None:
    found = block_hash(chain.w3, block)
    if found != expected:
        raise ConfigurationError(
            f"the live index stops at block {block} with hash {expected}, the chain now has "
            f"{found or 'no such block'} there (a reorganization): run the indexer, then verify",
            block_number=block,
        )


def verify(
    engine: sa.Engine,
    chain: Chain,
    deployment: Deployment,
    *,
    replay_url: str | None = None,
    chunk_size: int = 2000,
    cursor_name: str = CURSOR_NAME,
) -> VerifyReport:
    """Verifies the live index behind ``engine`` at its cursor. ``replay_url``: a database to
    replay into if it is empty, or an existing replay (at or past the cursor) to compare with;
    None: a fresh replay into a temporary SQLite database."""
    with engine.connect() as connection:
        cursor = read_cursor(connection, cursor_name)
    if cursor is None:
        raise ConfigurationError("the live index is empty: run the indexer before verifying it")
    block = cursor.block_number
    _check_cursor_on_chain(chain, block, cursor.block_hash)
    with tempfile.TemporaryDirectory(prefix="creditreg-replay-") as scratch:
        url = replay_url or f"sqlite:///{Path(scratch) / 'replay.db'}"
        with opened_engine(url) as replay_engine:
            summary = _replayed(replay_engine, chain, deployment, block, chunk_size, cursor_name)
            replayed = index_tables(replay_engine, as_of=block)
    live = index_tables(engine, as_of=block)
    results = compare_indexes(live, replayed)
    context = VerifyContext(engine, chain, deployment, block)
    results += [run(context) for run in CHECKS.values()]
    # Every view was read at the block; it must still be the block the index describes.
    _check_cursor_on_chain(chain, block, cursor.block_hash)
    return VerifyReport(
        block=block,
        block_hash=cursor.block_hash,
        live_digest=digest_tables(live, block),
        replay_digest=digest_tables(replayed, block),
        replay=summary,
        results=results,
    )


def _replayed(
    engine: sa.Engine,
    chain: Chain,
    deployment: Deployment,
    block: int,
    chunk_size: int,
    cursor_name: str,
) -> ReplaySummary | None:
    """Replays into ``engine`` if it is empty; else checks that the replay it holds has reached
    ``block``."""
    try:
        ensure_fresh(engine)
    except ConfigurationError:
        with engine.connect() as connection:
            reached = read_cursor(connection, cursor_name)
        if reached is None or reached.block_number < block:
            raise ConfigurationError(
                f"the replay database {engine.url.render_as_string(hide_password=True)} is "
                f"neither empty nor a replay up to block {block}: give an empty database, or "
                "none for a temporary one"
            ) from None
        return None
    return replay(engine, chain, deployment, to_block=block, chunk_size=chunk_size)
