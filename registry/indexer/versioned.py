"""The working set of one versioned projection for one chunk (see :mod:`registry.db.schema` for
versions, and :mod:`registry.indexer.load` for how a chunk is read, applied and written).

Generic, like :mod:`~registry.indexer.load`: every contract's module
(:mod:`~registry.indexer.ledger`, :mod:`~registry.indexer.pledges`, ...) builds its projections'
working sets from it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    String,
    Table,
    any_,
    bindparam,
    select,
)
from sqlalchemy.dialects import postgresql

from registry.db.bulk import insert_rows, update_rows
from registry.indexer.decode import EventRecord
from registry.indexer.errors import IndexConflict

__all__ = ["KEY_BATCH", "VersionedTable"]

KEY_BATCH = 500
"""Keys per ``IN (...)`` query on SQLite: far below its bound-parameter limit."""


def _among(
    connection: Connection, column: ColumnElement[str], values: Collection[str]
) -> Iterator[ColumnElement[bool]]:
    """Conditions ``column IN values``, as few as the database allows."""
    ordered = sorted(values)
    if not ordered:
        return
    if connection.dialect.name == "postgresql":
        # One array parameter instead of a parameter per key: binding thousands of them costs
        # more than the query.
        yield column == any_(bindparam("keys", ordered, type_=postgresql.ARRAY(String)))
        return
    for start in range(0, len(ordered), KEY_BATCH):
        yield column.in_(ordered[start : start + KEY_BATCH])


@dataclass(eq=False)
class _Version:
    """One version of an entity: stored (the database's current version when the chunk began) or
    made by this chunk."""

    key: str
    values: dict[str, Any]
    valid_from: int
    stored: bool
    valid_to: int | None = None
    dropped: bool = False
    """Made and removed within one block: it never existed at any block's end, so is not written."""


@dataclass(eq=False)
class VersionedTable:
    """The working set of one versioned projection for one chunk.

    ``group`` names a column to find current entities by (declarations by their receivable), kept
    up to date as versions change. Entities are read from the database by :meth:`load` before the
    events are applied; one the loader did not foresee is read on first use.
    """

    connection: Connection
    table: Table
    key: str
    group: str | None = None
    _current: dict[str, _Version | None] = field(default_factory=dict)
    _groups: dict[str, set[str]] = field(default_factory=dict)
    _loaded_groups: set[str] = field(default_factory=set)
    _new: list[_Version] = field(default_factory=list)
    _closed: list[_Version] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._columns = [
            c.name
            for c in self.table.columns
            if c.name not in (self.key, "valid_from_block", "valid_to_block")
        ]

    # -- reading ---------------------------------------------------------------------------------

    def load(self, keys: Collection[str], groups: Collection[str] = ()) -> None:
        """Reads the current versions of ``keys``, and of every entity in ``groups``."""
        table = self.table
        current = table.c.valid_to_block.is_(None)
        wanted = [k for k in keys if k not in self._current]
        for among in _among(self.connection, table.c[self.key], wanted):
            self._remember(self.connection.execute(select(table).where(current, among)).mappings())
        for key in wanted:
            self._current.setdefault(key, None)
        if self.group is not None:
            fresh = [g for g in groups if g not in self._loaded_groups]
            for among in _among(self.connection, table.c[self.group], fresh):
                self._remember(
                    self.connection.execute(select(table).where(current, among)).mappings()
                )
            self._loaded_groups.update(fresh)

    def _remember(self, rows: Iterable[RowMapping]) -> None:
        for row in rows:
            key = row[self.key]
            if key in self._current:
                continue  # read by key and by group: the first read is the one in use
            version = _Version(
                key, {c: row[c] for c in self._columns}, row["valid_from_block"], stored=True
            )
            self._current[key] = version
            self._index(version)

    def _version(self, key: str) -> _Version | None:
        if key not in self._current:
            self.load([key])
        return self._current.get(key)

    def get(self, key: str) -> Mapping[str, Any] | None:
        """The entity's values as the events applied so far left them; None if it has none."""
        version = self._version(key)
        return None if version is None else version.values

    def require(self, key: str, event: EventRecord, never_saw: str) -> Mapping[str, Any]:
        """:meth:`get` for an event about an entity that must exist: one the index does not hold
        (it never saw it ``never_saw``, e.g. "registered") is IndexConflict, since the index then
        describes another chain."""
        found = self.get(key)
        if found is None:
            raise IndexConflict(
                f"{event.event} at block {event.block_number} concerns {self.table.name} {key}, "
                f"which the index never saw {never_saw}",
                table=self.table.name,
                key=key,
            )
        return found

    def in_group(self, group: str) -> list[str]:
        """The keys of the entities whose current ``group`` column is ``group``."""
        if group not in self._loaded_groups:
            self.load((), [group])
        return sorted(self._groups.get(group, ()))

    # -- changing --------------------------------------------------------------------------------

    def put(self, key: str, block: int, values: Mapping[str, Any]) -> None:
        """Sets the entity's state as of ``block``: its current values updated with ``values``
        (a new entity takes ``values`` alone, which must then name every column)."""
        current = self._version(key)
        if current is not None and not current.stored and current.valid_from == block:
            self._unindex(current)
            current.values.update(values)
            self._index(current)
            return
        if current is not None:
            self._close(current, block)
        merged = values if current is None else {**current.values, **values}
        version = _Version(key, dict(merged), block, stored=False)
        missing = set(self._columns) - version.values.keys()
        if missing:
            raise ValueError(f"a new {self.table.name} version lacks {sorted(missing)}")
        self._new.append(version)
        self._current[key] = version
        self._index(version)

    def remove(self, key: str, block: int) -> None:
        """Ends the entity at ``block``."""
        current = self._version(key)
        if current is None:
            raise IndexConflict(
                f"an event at block {block} removes {self.table.name} {key}, which the index "
                "does not hold",
                table=self.table.name,
                key=key,
            )
        if not current.stored and current.valid_from == block:
            current.dropped = True
        else:
            self._close(current, block)
        self._current[key] = None
        self._unindex(current)

    def _close(self, version: _Version, block: int) -> None:
        if version.valid_from >= block:
            # Only a stored version can start at or after a new event: the index is ahead of it.
            raise IndexConflict(
                f"{self.table.name} {version.key} has a version from block {version.valid_from}; "
                f"an event of block {block} cannot precede it",
                table=self.table.name,
                key=version.key,
            )
        version.valid_to = block
        if version.stored:
            self._closed.append(version)

    def _index(self, version: _Version) -> None:
        if self.group is not None:
            self._groups.setdefault(version.values[self.group], set()).add(version.key)

    def _unindex(self, version: _Version) -> None:
        if self.group is not None:
            self._groups.get(version.values[self.group], set()).discard(version.key)

    # -- writing ---------------------------------------------------------------------------------

    def write(self) -> None:
        """Closes the stored versions the chunk replaced, then inserts the chunk's versions (in
        this order: the one-current-version index must hold after each statement)."""
        table = self.table
        quote = self.connection.dialect.identifier_preparer.quote
        # Identifiers from the schema, quoted; the values are bound parameters.
        statement = (
            f"UPDATE {quote(table.name)} SET valid_to_block = {{}} "  # noqa: S608
            f"WHERE {quote(self.key)} = {{}} AND valid_from_block = {{}} "
            "AND valid_to_block IS NULL"
        )
        closed = update_rows(
            self.connection, statement, [(v.valid_to, v.key, v.valid_from) for v in self._closed]
        )
        if closed != len(self._closed):
            raise IndexConflict(
                f"{len(self._closed)} current {table.name} versions to close, {closed} found: "
                "another writer changed the index",
                table=table.name,
            )
        columns = self._columns
        insert_rows(
            self.connection,
            table,
            [self.key, "valid_from_block", "valid_to_block", *columns],
            [
                (v.key, v.valid_from, v.valid_to, *[v.values[c] for c in columns])
                for v in self._new
                if not v.dropped
            ],
        )
