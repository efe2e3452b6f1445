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
   event type, each working on :class:`Projections` (the in-memory working set);
4. writes in bulk (:mod:`registry.db.bulk`: ``COPY`` on PostgreSQL, one prepared statement run
   by ``executemany`` on SQLite): the events rows, the stored versions the chunk closed, the new
   versions, the financings.

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

Projections:

- ``receivables``: status ``registered`` / ``financed`` / ``settled`` / ``cancelled`` (the
  contract's enum names), amounts and financier as the contract's ``getReceivable`` returns them.
  The registration event does not carry the declared value; it is the sum of the declarations
  linked to the receivable, whose events come first in the same transaction.
- ``declarations``: one entity per declaration fingerprint while linked, with its index in the
  receivable's list, standing, counted value and outstanding balance; its version is closed when
  its receivable is cancelled, because the contract frees the links then.
- ``financings``: one row per drawdown or repayment, with the balance after it (append-only).

Attestations, the advance-rate policy (which moves every live receivable's cap), per-declaration
balances and recorded refusals are :mod:`~registry.indexer.receivable_policy`'s.

The pledge registry's, the consent registry's and every contract's access events have their
projections, working sets and handlers in modules of their own (:mod:`~registry.indexer.pledges`,
:mod:`~registry.indexer.consents`, :mod:`~registry.indexer.access`); :class:`Projections` holds
their working sets and :data:`DEFAULT_HANDLERS` takes their handlers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    select,
)
from sqlalchemy.exc import IntegrityError

from registry.contracts.ledger import ReceivableStatus
from registry.db.bulk import JSONText, insert_rows
from registry.db.schema import declarations, events, financings, receivables
from registry.errors import ConfigurationError
from registry.indexer import access, consents, pledges, receivable_policy
from registry.indexer.decode import (
    EVENT_TYPES,
    DeclarationCounted,
    DeclarationFinanced,
    DeclarationLinked,
    DeclarationRepaid,
    EventRecord,
    ReceivableCancelled,
    ReceivableFinanced,
    ReceivableRegistered,
    ReceivableRepaid,
)
from registry.indexer.errors import IndexConflict
from registry.indexer.extract import BlockRange
from registry.indexer.versioned import VersionedTable

__all__ = [
    "DEFAULT_HANDLERS",
    "Handler",
    "Loader",
    "Projections",
    "status_name",
]

_SETTLED = ReceivableStatus.SETTLED


def status_name(status: ReceivableStatus) -> str:
    """The projection's spelling of a contract status."""
    return status.name.lower()


_CANCELLED = status_name(ReceivableStatus.CANCELLED)


class Projections:
    """What the handlers change: the chunk's working sets of the versioned projections, and the
    append-only rows (financings)."""

    def __init__(self, connection: Connection) -> None:
        self.receivables = VersionedTable(connection, receivables, "id")
        self.declarations = VersionedTable(
            connection, declarations, "fingerprint", group="receivable_id"
        )
        self.financings: list[tuple[Any, ...]] = []
        """Rows of ``financings``, in the order of :data:`_FINANCING_COLUMNS`."""
        self._connection = connection
        # Roles of every contract, the pledge registry, the consent registry: see their modules.
        self.access = access.AccessProjections(connection)
        self.pledge_registry = pledges.PledgeProjections(connection)
        self.consent_registry = consents.ConsentProjections(connection)
        # Attestations, the advance-rate policy and recorded refusals of the ledger.
        self.receivable_policy = receivable_policy.ReceivablePolicyProjections(connection)
        self._parts = (
            self.access,
            self.pledge_registry,
            self.consent_registry,
            self.receivable_policy,
        )

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        """Reads every entity the records touch, one query per projection (and key batch)."""
        receivable_ids = {r.id for r in records if isinstance(r, _RECEIVABLE_EVENTS)}
        fingerprints = {
            r.declaration for r in records if isinstance(r, DeclarationLinked | DeclarationCounted)
        }
        self.receivables.load(receivable_ids)
        # A registration sums, a cancellation unlinks, the declarations of its receivable.
        self.declarations.load(fingerprints, receivable_ids)
        for part in self._parts:
            part.prefetch(records)

    def write(self) -> None:
        self.receivables.write()
        self.declarations.write()
        insert_rows(self._connection, financings, _FINANCING_COLUMNS, self.financings)
        for part in self._parts:
            part.write()


_FINANCING_COLUMNS = (
    "receivable_id",
    "bank",
    "kind",
    "amount",
    "outstanding_after",
    "block_number",
    "log_index",
    "tx_hash",
)

Handler = Callable[[Projections, Any], None]
"""Applies one decoded event (of the type it is registered for) to the chunk's projections."""


def _declared_value(p: Projections, receivable_id: str) -> int:
    total = 0
    for fingerprint in p.declarations.in_group(receivable_id):
        linked = p.declarations.get(fingerprint)
        assert linked is not None  # in_group lists current entities only
        total += linked["value"]
    return total


def _on_registered(p: Projections, event: ReceivableRegistered) -> None:
    # A cancelled receivable can be registered again: the new version replaces every column.
    p.receivables.put(
        event.id,
        event.block_number,
        {
            "status": status_name(ReceivableStatus.REGISTERED),
            "registrant": event.registrant,
            "exporter": event.exporter,
            "key_version": event.key_version,
            "face_value": event.face_value,
            "currency": event.currency,
            "maturity": event.maturity,
            "advance_rate_bps": event.advance_rate_bps,
            "cap": event.cap,
            "declared_value": _declared_value(p, event.id),
            "outstanding": 0,
            "financier": None,
            "registered_block": event.block_number,
        },
    )


def _on_declaration_linked(p: Projections, event: DeclarationLinked) -> None:
    # Counted as declared until the DeclarationCounted that follows says otherwise; placed after
    # the receivable's declarations linked so far (the contract's order), which that event confirms.
    p.declarations.put(
        event.declaration,
        event.block_number,
        {
            "receivable_id": event.id,
            "value": event.value,
            "list_index": len(p.declarations.in_group(event.id)),
            "standing": "unverified",
            "counted_value": event.value,
            "outstanding": 0,
        },
    )
    # Today's contract links the declarations before it emits the registration; should that order
    # ever flip, the registered receivable must still count this declaration.
    registered = p.receivables.get(event.id)
    if registered is not None and registered["status"] != _CANCELLED:
        p.receivables.put(
            event.id, event.block_number, {"declared_value": _declared_value(p, event.id)}
        )


def _record_financing(
    p: Projections, event: ReceivableFinanced | ReceivableRepaid, kind: str
) -> None:
    p.financings.append(
        (
            event.id,
            event.bank,
            kind,
            event.amount,
            event.outstanding,
            event.block_number,
            event.log_index,
            event.tx_hash,
        )
    )


def _on_financed(p: Projections, event: ReceivableFinanced) -> None:
    p.receivables.require(event.id, event, "registered")
    p.receivables.put(
        event.id,
        event.block_number,
        {
            "status": status_name(ReceivableStatus.FINANCED),
            "outstanding": event.outstanding,
            "financier": event.bank,
        },
    )
    _record_financing(p, event, "drawdown")


def _on_repaid(p: Projections, event: ReceivableRepaid) -> None:
    p.receivables.require(event.id, event, "registered")
    p.receivables.put(
        event.id,
        event.block_number,
        {
            "status": status_name(event.status),
            "outstanding": event.outstanding,
            # Settling ends the exclusivity: the contract shows no financier then, nor does the
            # index. A partial repayment leaves the financier (the account of the last drawdown).
            **({"financier": None} if event.status is _SETTLED else {}),
        },
    )
    _record_financing(p, event, "repayment")


def _on_cancelled(p: Projections, event: ReceivableCancelled) -> None:
    p.receivables.require(event.id, event, "registered")
    # A cancelled receivable has no cap: its declarations are free.
    p.receivables.put(event.id, event.block_number, {"status": _CANCELLED, "cap": 0})
    for fingerprint in p.declarations.in_group(event.id):
        p.declarations.remove(fingerprint, event.block_number)


_RECEIVABLE_EVENTS = (
    DeclarationCounted,
    DeclarationFinanced,
    DeclarationLinked,
    DeclarationRepaid,
    ReceivableCancelled,
    ReceivableFinanced,
    ReceivableRegistered,
    ReceivableRepaid,
)

DEFAULT_HANDLERS: Mapping[type[EventRecord], Handler] = {
    DeclarationLinked: _on_declaration_linked,
    ReceivableCancelled: _on_cancelled,
    ReceivableFinanced: _on_financed,
    ReceivableRegistered: _on_registered,
    ReceivableRepaid: _on_repaid,
    **access.HANDLERS,
    **pledges.HANDLERS,
    **consents.HANDLERS,
    **receivable_policy.HANDLERS,
}


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
    """Writes decoded events into the index, within the caller's transaction."""

    def __init__(self, handlers: Mapping[type[EventRecord], Handler] = DEFAULT_HANDLERS) -> None:
        missing = sorted(set(EVENT_TYPES) - {t.__name__ for t in handlers})
        if missing:
            raise ConfigurationError(f"no loader handler for {', '.join(missing)}")
        self.handlers = dict(handlers)

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
        projections = Projections(connection)
        projections.prefetch(new)
        for record in new:
            self.handlers[type(record)](projections, record)
        try:
            rows = [_event_row(record, serialized=True) for record in new]
            insert_rows(connection, events, _EVENT_COLUMNS, rows)
            projections.write()
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
