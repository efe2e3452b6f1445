"""The cursor: the last block indexed, with its hash, in the index database itself.

It lives in the same database as the rows it describes and moves in the same transaction as they are
written (Ponder's rule): after a crash, either a chunk's rows and its cursor are both there or
neither is, so the indexer resumes exactly where it stopped. The hash lets the next step notice that
the chain replaced that block.

The move is a compare-and-swap on the previous position, so a second indexer writing to the same
database fails instead of moving the cursor backwards.

The cursor's row also counts the reorganizations the indexer rolled back (:class:`IndexerState`),
so that a process other than the indexer's (the API's health check) can report them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eth_typing import HexStr
from sqlalchemy import Connection, func, insert, select, update

from registry.db.schema import indexer_cursor
from registry.indexer.errors import IndexConflict

__all__ = ["CURSOR_NAME", "Cursor", "IndexerState", "read_cursor", "read_state", "write_cursor"]

CURSOR_NAME = "ledger"
"""The name of the deployment's indexer's cursor row (every reader of the index asks for it)."""


@dataclass(frozen=True)
class Cursor:
    block_number: int
    block_hash: HexStr


@dataclass(frozen=True)
class IndexerState:
    """The cursor with the indexer's record of reorganizations."""

    cursor: Cursor
    reorgs: int
    """Reorganizations rolled back since the index was created."""
    last_reorg_depth: int | None
    """Blocks the last rollback un-indexed (cursor minus common ancestor); None before any."""
    last_reorg_at: datetime | None


def read_state(connection: Connection, name: str) -> IndexerState | None:
    c = indexer_cursor.c
    row = connection.execute(
        select(c.block_number, c.block_hash, c.reorgs, c.last_reorg_depth, c.last_reorg_at).where(
            c.name == name
        )
    ).one_or_none()
    if row is None:
        return None
    return IndexerState(
        Cursor(row.block_number, HexStr(row.block_hash)),
        row.reorgs,
        row.last_reorg_depth,
        row.last_reorg_at,
    )


def read_cursor(connection: Connection, name: str) -> Cursor | None:
    state = read_state(connection, name)
    return None if state is None else state.cursor


def write_cursor(
    connection: Connection,
    name: str,
    previous: Cursor | None,
    new: Cursor,
    *,
    reorg_depth: int | None = None,
) -> None:
    """Moves cursor ``name`` from ``previous`` (None: no cursor yet) to ``new``.

    ``reorg_depth``: the move is a rollback of that many blocks, counted in the cursor's row.
    """
    if previous is None:
        if read_cursor(connection, name) is not None:
            raise IndexConflict(f"cursor {name!r} appeared while indexing: another indexer runs")
        connection.execute(
            insert(indexer_cursor).values(
                name=name, block_number=new.block_number, block_hash=new.block_hash
            )
        )
        return
    c = indexer_cursor.c
    statement = (
        update(indexer_cursor)
        .where(
            c.name == name,
            c.block_number == previous.block_number,
            c.block_hash == previous.block_hash,
        )
        .values(block_number=new.block_number, block_hash=new.block_hash, updated_at=func.now())
    )
    if reorg_depth is not None:
        statement = statement.values(
            reorgs=c.reorgs + 1, last_reorg_depth=reorg_depth, last_reorg_at=func.now()
        )
    moved = connection.execute(statement)
    if moved.rowcount != 1:
        raise IndexConflict(
            f"cursor {name!r} moved away from block {previous.block_number} while indexing: "
            "another indexer runs"
        )
