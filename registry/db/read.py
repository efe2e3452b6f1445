"""Reading the projections now or as of a past block (credit reports "as of" a date, auditors).

Every versioned projection (see :mod:`registry.db.schema`) is read the same way: the versions
valid at block B are those with ``valid_from_block <= B`` and ``valid_to_block`` NULL or above B;
now (``block=None``) means the current versions, ``valid_to_block IS NULL``. Append-only tables
(financings) hold at block B the rows of blocks up to B.

An answer as of block B is complete only if the index has reached B: callers that take B from a
user compare it with the cursor first (:func:`registry.indexer.read_cursor`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, RowMapping, Table, and_, or_, select

from registry.db.schema import VERSIONED, declarations, financings, receivables

__all__ = [
    "as_of",
    "declarations_as_of",
    "financings_as_of",
    "projection_as_of",
    "receivable_as_of",
    "receivables_as_of",
]


def as_of(table: Table, block: int | None) -> ColumnElement[bool]:
    """The condition selecting the versions of ``table`` valid at ``block`` (None: now)."""
    if block is None:
        return table.c.valid_to_block.is_(None)
    return and_(
        table.c.valid_from_block <= block,
        or_(table.c.valid_to_block.is_(None), table.c.valid_to_block > block),
    )


def _key(table: Table) -> str:
    for versioned, key in VERSIONED.values():
        if versioned is table:
            return key
    raise ValueError(f"{table.name} is not a versioned projection")


def projection_as_of(
    connection: Connection,
    table: Table,
    block: int | None = None,
    *where: ColumnElement[bool],
) -> Sequence[RowMapping]:
    """The entities of the versioned projection ``table`` as they were at ``block`` (None: now),
    one row each, ordered by their key; ``where`` narrows them further."""
    key = _key(table)
    return (
        connection.execute(select(table).where(as_of(table, block), *where).order_by(table.c[key]))
        .mappings()
        .all()
    )


def receivables_as_of(connection: Connection, block: int | None = None) -> Sequence[RowMapping]:
    return projection_as_of(connection, receivables, block)


def receivable_as_of(
    connection: Connection, receivable_id: str, block: int | None = None
) -> RowMapping | None:
    """One receivable (``0x``-hex id) as it was at ``block``; None if it did not exist then."""
    rows = projection_as_of(connection, receivables, block, receivables.c.id == receivable_id)
    return rows[0] if rows else None


def declarations_as_of(connection: Connection, block: int | None = None) -> Sequence[RowMapping]:
    return projection_as_of(connection, declarations, block)


def financings_as_of(connection: Connection, block: int | None = None) -> Sequence[RowMapping]:
    """Drawdowns and repayments up to ``block`` (None: all), in chain order."""
    statement = select(financings).order_by(financings.c.block_number, financings.c.log_index)
    if block is not None:
        statement = statement.where(financings.c.block_number <= block)
    return connection.execute(statement).mappings().all()
