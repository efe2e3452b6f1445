"""The cursor: the last block indexed, with its hash, in the index database itself.

It lives in the same database as the rows it describes and moves in the same transaction as they are
written (Ponder's rule): after a crash, either a chunk's rows and its cursor are both there or
neither is, so the indexer resumes exactly where it stopped. The hash lets the next step notice that
the chain replaced that block.

The move is a compare-and-swap on the previous position, so a second indexer writing to the same
database fails instead of moving the cursor backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_typing import HexStr
from sqlalchemy import Connection, func, insert, select, update

from registry.db.schema import indexer_cursor
from registry.indexer.errors import IndexConflict

__all__ = ["Cursor", "read_cursor", "write_cursor"]


@dataclass(frozen=True)
class Cursor:
    block_number: int
    block_hash: HexStr


def read_cursor(connection: Connection, name: str) -> Cursor | None:
    row = connection.execute(
        select(indexer_cursor.c.block_number, indexer_cursor.c.block_hash).where(
            indexer_cursor.c.name == name
        )
    ).one_or_none()
    return None if row is None else Cursor(row.block_number, HexStr(row.block_hash))


def write_cursor(connection: Connection, name: str, previous: Cursor | None, new: Cursor) -> None:
    """Moves cursor ``name`` from ``previous`` (None: no cursor yet) to ``new``."""
    if previous is None:
        if read_cursor(connection, name) is not None:
            raise IndexConflict(f"cursor {name!r} appeared while indexing: another indexer runs")
        connection.execute(
            insert(indexer_cursor).values(
                name=name, block_number=new.block_number, block_hash=new.block_hash
            )
        )
        return
    moved = connection.execute(
        update(indexer_cursor)
        .where(
            indexer_cursor.c.name == name,
            indexer_cursor.c.block_number == previous.block_number,
            indexer_cursor.c.block_hash == previous.block_hash,
        )
        .values(block_number=new.block_number, block_hash=new.block_hash, updated_at=func.now())
    )
    if moved.rowcount != 1:
        raise IndexConflict(
            f"cursor {name!r} moved away from block {previous.block_number} while indexing: "
            "another indexer runs"
        )
