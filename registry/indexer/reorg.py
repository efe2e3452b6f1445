"""Reorganizations: the block hashes the index keeps, the common ancestor, the rollback (Ponder's
way: roll back to the last block both chains share, then index the new branch as usual).

Which hashes are kept (table ``indexed_blocks``): the hash of every block that carried events of
ours (taken from its logs, so it costs no request), and of each chunk's end block (the cursor's),
the latter only while it is within :data:`REORG_WINDOW` blocks of the cursor. Not every block:
reading a hash costs a request per block, which a catch-up over millions of empty blocks cannot
afford. The ancestor found is then the newest *kept* block that the chain still has; it may be
older than the fork point, which only means re-reading a few more blocks, never a wrong index,
since everything above it is rolled back and read again from the chain.

The search: if a kept block's hash matches the chain's, so does every block below it (each hash
commits to its parent), and every kept block above the fork point mismatches. So the kept blocks
below the cursor are probed at doubling distances until one matches, then bisected between the
last mismatch and that match: O(log depth) requests, whatever the depth. None matching means
the reorganization goes deeper than the index's history:
:class:`~registry.indexer.errors.ReorgDetected`.

The rollback is one transaction: events, financings, read-log anchors, refused attempts and
versions from after the ancestor are deleted, the versions they had closed are reopened, the kept
hashes above it dropped, and the cursor moves to the ancestor with the reorganization counted in
its row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from eth_typing import HexStr
from sqlalchemy import Connection, delete, insert, select, update

from registry.db.schema import (
    VERSIONED,
    events,
    financings,
    indexed_blocks,
    read_log_anchors,
    refused_attempts,
)
from registry.indexer.cursor import Cursor, write_cursor
from registry.indexer.errors import IndexConflict

__all__ = [
    "REORG_WINDOW",
    "Rollback",
    "find_common_ancestor",
    "remember_blocks",
    "roll_back",
]

REORG_WINDOW = 256
"""Blocks below the cursor whose chunk-end hashes are kept even when they carried no events."""

ChainHash = Callable[[int], HexStr | None]
"""The chain's hash of a block number (None: the chain has no such block)."""


@dataclass(frozen=True)
class Rollback:
    """A reorganization handled: the cursor moved back from ``replaced`` to ``ancestor``."""

    replaced: Cursor
    ancestor: Cursor

    @property
    def depth(self) -> int:
        return self.replaced.block_number - self.ancestor.block_number


def remember_blocks(
    connection: Connection,
    blocks: Mapping[int, tuple[HexStr, int]],
    previous: int,
    end: int,
) -> None:
    """Keeps ``blocks`` (number -> hash, events in it) indexed by a chunk ending at ``end``, and
    forgets the event-less hashes that fell out of the window since the cursor was at
    ``previous``."""
    if blocks:
        c = indexed_blocks.c
        stored = {
            row.number: row.hash
            for row in connection.execute(
                select(c.number, c.hash).where(c.number.between(min(blocks), max(blocks)))
            )
        }
        for number, (block_hash, _) in blocks.items():
            if stored.get(number, block_hash) != block_hash:
                raise IndexConflict(
                    f"the index keeps hash {stored[number]} for block {number}, the chain's logs "
                    f"say {block_hash}",
                    block_number=number,
                )
        rows = [
            {"number": number, "hash": block_hash, "events": count}
            for number, (block_hash, count) in sorted(blocks.items())
            if number not in stored
        ]
        if rows:
            connection.execute(insert(indexed_blocks), rows)
    connection.execute(
        delete(indexed_blocks).where(
            indexed_blocks.c.events == 0,
            indexed_blocks.c.number > previous - REORG_WINDOW,
            indexed_blocks.c.number <= end - REORG_WINDOW,
        )
    )


def _kept_at_or_below(connection: Connection, number: int) -> Cursor | None:
    c = indexed_blocks.c
    row = connection.execute(
        select(c.number, c.hash).where(c.number <= number).order_by(c.number.desc()).limit(1)
    ).one_or_none()
    return None if row is None else Cursor(row.number, HexStr(row.hash))


def _oldest_kept_below(connection: Connection, number: int) -> Cursor | None:
    c = indexed_blocks.c
    row = connection.execute(
        select(c.number, c.hash).where(c.number < number).order_by(c.number).limit(1)
    ).one_or_none()
    return None if row is None else Cursor(row.number, HexStr(row.hash))


def find_common_ancestor(
    connection: Connection, chain_hash: ChainHash, below: int
) -> Cursor | None:
    """The newest kept block under ``below`` (a block whose kept hash the chain contradicts) that
    the chain still has; None if it has none of them."""
    mismatch = below
    while True:
        probe = _kept_at_or_below(connection, below - 2 * (below - mismatch) - 1)
        oldest = probe is None
        if probe is None:
            # The doubling overshot the history: the oldest kept block is the last candidate.
            probe = _oldest_kept_below(connection, mismatch)
            if probe is None:
                return None
        if chain_hash(probe.block_number) == probe.block_hash:
            break
        if oldest:
            return None
        mismatch = probe.block_number
    c = indexed_blocks.c
    between = [
        Cursor(row.number, HexStr(row.hash))
        for row in connection.execute(
            select(c.number, c.hash)
            .where(c.number > probe.block_number, c.number < mismatch)
            .order_by(c.number)
        )
    ]
    # Invariant: between[low] matches (or low == -1: the probe does), between[high] does not.
    low, high = -1, len(between)
    while high - low > 1:
        middle = (low + high) // 2
        if chain_hash(between[middle].block_number) == between[middle].block_hash:
            low = middle
        else:
            high = middle
    return probe if low < 0 else between[low]


def roll_back(connection: Connection, cursor_name: str, rollback: Rollback) -> None:
    """Un-indexes every block above ``rollback.ancestor``, within the caller's transaction."""
    ancestor = rollback.ancestor.block_number
    connection.execute(delete(events).where(events.c.block_number > ancestor))
    connection.execute(delete(financings).where(financings.c.block_number > ancestor))
    connection.execute(delete(read_log_anchors).where(read_log_anchors.c.block_number > ancestor))
    connection.execute(delete(refused_attempts).where(refused_attempts.c.block_number > ancestor))
    for table, _key in VERSIONED.values():
        # Deleting first leaves at most one version per entity spanning the ancestor, so the
        # reopened ones never meet another current version.
        connection.execute(delete(table).where(table.c.valid_from_block > ancestor))
        connection.execute(
            update(table).where(table.c.valid_to_block > ancestor).values(valid_to_block=None)
        )
    connection.execute(delete(indexed_blocks).where(indexed_blocks.c.number > ancestor))
    write_cursor(
        connection, cursor_name, rollback.replaced, rollback.ancestor, reorg_depth=rollback.depth
    )
