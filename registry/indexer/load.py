"""Load: a chunk of decoded events becomes ``events`` rows and versions of the projections.

The caller owns the transaction (the runner writes a chunk's rows, its block hashes and its cursor
in one), so nothing here commits.

Chunk at a time, not event at a time: a statement per event cannot reach the tens of thousands of
events a second that a replay of a busy chain needs, so :meth:`Loader.load`

1. reads the chunk's block range of ``events`` back (normally empty; see idempotency below);
2. reads the current versions of every entity the chunk touches, one query per projection (in
   batches of :data:`~registry.indexer.versioned.KEY_BATCH` keys on SQLite, under its limit on
   bound parameters; at once on PostgreSQL, as one array parameter);
3. applies the events in memory, in chain order ``(block, transaction, log)``, one handler per
   event type, each working on its contract's :class:`WorkingSet` (the in-memory working set);
4. writes in bulk (:mod:`registry.db.bulk`: ``COPY`` on PostgreSQL, one prepared statement run
   by ``executemany`` on SQLite): the events rows, then each contract's stored versions the chunk
   closed, new versions and append-only rows.

Versions (see :mod:`registry.db.schema`): a change at block B closes the entity's current version
at B and opens one from B, except that further changes in the same block update that new version
in place, so one block gives one version, the state at its end. An entity removed in the block
that created it leaves no version at all.

Correctness guarantees, as with the row-at-a-time loader this replaces:

- Idempotency. A chunk always starts after the cursor, which moves in the same transaction as the
  rows, so a chunk is normally new. Should its blocks already hold events (an indexer restarted
  from an older or deleted cursor), each stored event must be the very same log (block hash,
  transaction, contract, event, arguments) as the chain's at that ``(block_number, log_index)``
  and is then skipped, not applied again; a different log, or a stored log the chain no longer
  has, is :class:`~registry.indexer.errors.IndexConflict`: the index describes another chain.
- A new event may only move an entity forward: if the entity's stored current version starts at or
  after the event's block, the index holds later history than the event and applying it would
  rewrite the past: IndexConflict.
- Unique keys as the safety net: ``(block_number, log_index)`` for events and financings, one
  current version per entity (partial unique indexes), the version primary keys. A write they
  refuse is IndexConflict (two indexers racing on one database, or a bug), never a silent upsert.

Generic: what a contract brings is an :class:`IndexedContract`, the working set of its projections
(a :class:`WorkingSet`, built for each chunk) and one handler per event record; a handler gets its
own contract's working set and the record. The contracts are listed in one place,
:mod:`registry.indexer.contracts`, and handed to the :class:`Loader`; this module imports none of
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from registry.db.bulk import JSONText, insert_rows
from registry.db.schema import events
from registry.errors import ConfigurationError
from registry.indexer.decode import EventRecord
from registry.indexer.errors import IndexConflict
from registry.indexer.extract import BlockRange

__all__ = [
    "Handler",
    "IndexedContract",
    "Loader",
    "WorkingSet",
    "event_row_only",
]


class WorkingSet(Protocol):
    """One contract's projections for one chunk, what its handlers change in memory."""

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        """Reads every stored entity that ``records`` (the chunk's new events, of every contract)
        touch: one query per projection (and key batch)."""

    def write(self) -> None:
        """Writes what the handlers changed, in bulk."""


W = TypeVar("W", bound=WorkingSet)

Handler = Callable[[W, Any], None]
"""Applies one decoded event (of the record type it is listed for) to its contract's working set."""


@dataclass(frozen=True)
class IndexedContract(Generic[W]):
    """What the index holds of one contract: the working set of its projections, built for each
    chunk from the chunk's connection, and a handler for each of its event records (the keys of
    ``handlers`` are the contract's records)."""

    name: str
    projections: Callable[[Connection], W]
    handlers: Mapping[type[EventRecord], Handler[W]]

    @property
    def records(self) -> tuple[type[EventRecord], ...]:
        return tuple(self.handlers)


def event_row_only(projections: object, event: EventRecord) -> None:
    """The handler of an event with no projection: its events row is the record."""


_EVENT_COLUMNS = (
    "block_number",
    "log_index",
    "block_hash",
    "tx_hash",
    "tx_index",
    "contract",
    "event",
    "args",
)


def _event_row(record: EventRecord, *, serialized: bool = False) -> tuple[Any, ...]:
    """The record's ``events`` row, in the order of :data:`_EVENT_COLUMNS`; with ``serialized``,
    its arguments as JSON text (to write), else as the dictionary a read returns."""
    return (
        record.block_number,
        record.log_index,
        record.block_hash,
        record.tx_hash,
        record.tx_index,
        record.contract,
        record.event,
        JSONText(record.args_json()) if serialized else record.args(),
    )


class Loader:
    """Writes decoded events into the index, within the caller's transaction.

    ``contracts`` (:data:`registry.indexer.contracts.CONTRACTS`) bring the projections and the
    handlers; ``handlers`` replaces some of theirs (a seam for tests: a handler that fails), each
    still given its contract's working set.
    """

    def __init__(
        self,
        contracts: Sequence[IndexedContract[Any]],
        handlers: Mapping[type[EventRecord], Handler[Any]] | None = None,
    ) -> None:
        self.contracts = tuple(contracts)
        # Record type -> (its contract's place in self.contracts, its handler).
        self._dispatch: dict[type[EventRecord], tuple[int, Handler[Any]]] = {}
        for place, contract in enumerate(self.contracts):
            for record, handler in contract.handlers.items():
                if record in self._dispatch:
                    other = self.contracts[self._dispatch[record][0]].name
                    raise ConfigurationError(
                        f"{contract.name} and {other} both handle {record.__name__}"
                    )
                self._dispatch[record] = (place, handler)
        for record, handler in (handlers or {}).items():
            if record not in self._dispatch:
                raise ConfigurationError(f"no contract has the event {record.__name__}")
            self._dispatch[record] = (self._dispatch[record][0], handler)

    def load(
        self,
        connection: Connection,
        records: Iterable[EventRecord],
        block_range: BlockRange | None = None,
    ) -> int:
        """Records and applies ``records`` (the logs of ``block_range``, by default the blocks
        from the first record's to the last's) in chain order; returns how many were new."""
        ordered = sorted(records, key=lambda r: r.position)
        if block_range is None:
            if not ordered:
                return 0
            block_range = BlockRange(ordered[0].block_number, ordered[-1].block_number)
        new = self._unrecorded(connection, ordered, block_range)
        if not new:
            return 0
        working = [contract.projections(connection) for contract in self.contracts]
        for working_set in working:
            working_set.prefetch(new)
        dispatch = self._dispatch
        for record in new:
            place, handler = dispatch[type(record)]
            handler(working[place], record)
        try:
            rows = [_event_row(record, serialized=True) for record in new]
            insert_rows(connection, events, _EVENT_COLUMNS, rows)
            for working_set in working:
                working_set.write()
        except IntegrityError as error:
            raise IndexConflict(
                f"the index refused a row of blocks {block_range}: {error.orig}"
            ) from error
        return len(new)

    @staticmethod
    def _unrecorded(
        connection: Connection, records: list[EventRecord], block_range: BlockRange
    ) -> list[EventRecord]:
        """The records whose logs the index does not hold yet; raises IndexConflict where it
        holds different ones in these blocks."""
        stored = {
            (row.block_number, row.log_index): tuple(row)
            for row in connection.execute(
                select(*(events.c[name] for name in _EVENT_COLUMNS)).where(
                    events.c.block_number.between(block_range.start, block_range.end)
                )
            )
        }
        if not stored:
            return records
        new = []
        for record in records:
            found = stored.pop((record.block_number, record.log_index), None)
            if found is None:
                new.append(record)
                continue
            expected = _event_row(record)
            if found != expected:
                raise IndexConflict(
                    f"the index holds another log at block {record.block_number}, log "
                    f"{record.log_index}: {found} instead of {expected}",
                    block_number=record.block_number,
                    log_index=record.log_index,
                )
        if stored:
            (block_number, log_index), found = min(stored.items())
            raise IndexConflict(
                f"the index holds a log at block {block_number}, log {log_index} that the chain "
                f"does not have: {json.dumps(found, default=str)}",
                block_number=block_number,
                log_index=log_index,
            )
        return new
