"""Load: each decoded event becomes an ``events`` row and is applied to the projections.

One handler per event type. The caller owns the transaction (the runner writes a chunk's rows and
its cursor in one), so nothing here commits.

Idempotency rests on real unique keys, at two levels:

- The ``events`` row, keyed by ``(block_number, log_index)``, gates everything: a log already
  recorded is not applied again. Projection updates set values rather than add to them, but an old
  event applied after newer ones would still move a receivable back in time, hence the gate. The
  same position holding a *different* log (another block hash, transaction or event) means the index
  describes another chain: :class:`~registry.indexer.errors.IndexConflict`, never an overwrite.
- Each projection write is itself an upsert on its own key (receivable id, declaration
  fingerprint, financing ``(block_number, log_index)``), with the dialect's
  ``INSERT .. ON CONFLICT`` on SQLite and PostgreSQL alike.

Projections:

- ``receivables``: status ``registered`` / ``financed`` / ``settled`` / ``cancelled`` (the
  contract's enum names), amounts and financier as the contract's ``getReceivable`` returns them.
  The registration event does not carry the declared value; it is the sum of the declarations
  linked to the receivable, whose events come in the same transaction (summed in Python: SQLite
  stores the amounts as text).
- ``declarations``: one row per declaration currently linked, deleted when its receivable is
  cancelled, because the contract frees the links then.
- ``financings``: one row per drawdown or repayment, with the balance after it.

Role and advance-rate events have no projection: their ``events`` rows are their record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from registry.chain.ledger import ReceivableStatus
from registry.db.schema import declarations, events, financings, receivables
from registry.errors import ConfigurationError
from registry.indexer.decode import (
    EVENT_TYPES,
    AdvanceRateSet,
    DeclarationLinked,
    EventRecord,
    ReceivableCancelled,
    ReceivableFinanced,
    ReceivableRegistered,
    ReceivableRepaid,
    RoleAdminChanged,
    RoleGranted,
    RoleRevoked,
)
from registry.indexer.errors import IndexConflict

__all__ = ["DEFAULT_HANDLERS", "Handler", "Loader", "status_name"]

Handler = Callable[[Connection, Any], None]
"""Applies one decoded event (of the type it is registered for) to the projections."""


def status_name(status: ReceivableStatus) -> str:
    """The projection's spelling of a contract status."""
    return status.name.lower()


def _upsert(
    connection: Connection, table: Table, values: Mapping[str, Any], keys: tuple[str, ...]
) -> None:
    """Inserts ``values``; on a conflict on ``keys`` updates the other columns (or, with none
    left, leaves the row as it is)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).values(**values)
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values)
    else:
        raise ConfigurationError(f"the index supports SQLite and PostgreSQL, not {dialect}")
    changes = {name: statement.excluded[name] for name in values if name not in keys}
    if changes:
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    connection.execute(statement)


def _update_receivable(connection: Connection, receivable_id: str, **values: Any) -> None:
    updated = connection.execute(
        update(receivables).where(receivables.c.id == receivable_id).values(**values)
    )
    if updated.rowcount != 1:
        raise IndexConflict(
            f"an event updates receivable {receivable_id}, which the index never saw registered",
            receivable=receivable_id,
        )


def _declared_value(connection: Connection, receivable_id: str) -> int:
    values = connection.execute(
        select(declarations.c.value).where(declarations.c.receivable_id == receivable_id)
    ).scalars()
    return sum(values)


def _on_registered(connection: Connection, event: ReceivableRegistered) -> None:
    # A cancelled receivable can be registered again: the upsert replaces the old row whole.
    _upsert(
        connection,
        receivables,
        {
            "id": event.id,
            "status": status_name(ReceivableStatus.REGISTERED),
            "registrant": event.registrant,
            "exporter": event.exporter,
            "key_version": event.key_version,
            "face_value": event.face_value,
            "currency": event.currency,
            "maturity": event.maturity,
            "advance_rate_bps": event.advance_rate_bps,
            "cap": event.cap,
            "declared_value": _declared_value(connection, event.id),
            "outstanding": 0,
            "financier": None,
            "registered_block": event.block_number,
            "updated_block": event.block_number,
        },
        keys=("id",),
    )


def _on_declaration_linked(connection: Connection, event: DeclarationLinked) -> None:
    _upsert(
        connection,
        declarations,
        {
            "fingerprint": event.declaration,
            "receivable_id": event.id,
            "value": event.value,
            "linked_block": event.block_number,
        },
        keys=("fingerprint",),
    )
    # Today's contract links the declarations before it emits the registration; should that order
    # ever flip, the registered receivable must still count this declaration.
    status = connection.execute(
        select(receivables.c.status).where(receivables.c.id == event.id)
    ).scalar_one_or_none()
    if status is not None and status != status_name(ReceivableStatus.CANCELLED):
        _update_receivable(
            connection, event.id, declared_value=_declared_value(connection, event.id)
        )


def _record_financing(
    connection: Connection, event: ReceivableFinanced | ReceivableRepaid, kind: str
) -> None:
    _upsert(
        connection,
        financings,
        {
            "receivable_id": event.id,
            "bank": event.bank,
            "kind": kind,
            "amount": event.amount,
            "outstanding_after": event.outstanding,
            "block_number": event.block_number,
            "log_index": event.log_index,
            "tx_hash": event.tx_hash,
        },
        keys=("block_number", "log_index"),
    )


def _on_financed(connection: Connection, event: ReceivableFinanced) -> None:
    _update_receivable(
        connection,
        event.id,
        status=status_name(ReceivableStatus.FINANCED),
        outstanding=event.outstanding,
        financier=event.bank,
        updated_block=event.block_number,
    )
    _record_financing(connection, event, "drawdown")


def _on_repaid(connection: Connection, event: ReceivableRepaid) -> None:
    settled = event.status is ReceivableStatus.SETTLED
    _update_receivable(
        connection,
        event.id,
        status=status_name(event.status),
        outstanding=event.outstanding,
        # Settling ends the exclusivity: the contract clears the financier, so does the index.
        financier=None if settled else event.bank,
        updated_block=event.block_number,
    )
    _record_financing(connection, event, "repayment")


def _on_cancelled(connection: Connection, event: ReceivableCancelled) -> None:
    _update_receivable(
        connection,
        event.id,
        status=status_name(ReceivableStatus.CANCELLED),
        updated_block=event.block_number,
    )
    connection.execute(delete(declarations).where(declarations.c.receivable_id == event.id))


def _event_row_only(connection: Connection, event: EventRecord) -> None:
    """Policy and role changes have no projection table; the events row is their record."""


DEFAULT_HANDLERS: Mapping[type[EventRecord], Handler] = {
    AdvanceRateSet: _event_row_only,
    DeclarationLinked: _on_declaration_linked,
    ReceivableCancelled: _on_cancelled,
    ReceivableFinanced: _on_financed,
    ReceivableRegistered: _on_registered,
    ReceivableRepaid: _on_repaid,
    RoleAdminChanged: _event_row_only,
    RoleGranted: _event_row_only,
    RoleRevoked: _event_row_only,
}


class Loader:
    """Writes decoded events into the index, within the caller's transaction."""

    def __init__(self, handlers: Mapping[type[EventRecord], Handler] = DEFAULT_HANDLERS) -> None:
        missing = sorted(set(EVENT_TYPES) - {t.__name__ for t in handlers})
        if missing:
            raise ConfigurationError(f"no loader handler for {', '.join(missing)}")
        self.handlers = dict(handlers)

    def load(self, connection: Connection, records: Iterable[EventRecord]) -> int:
        """Records and applies ``records`` in chain order; returns how many were new."""
        applied = 0
        for record in sorted(records, key=lambda r: r.position):
            if self._record_event(connection, record):
                self.handlers[type(record)](connection, record)
                applied += 1
        return applied

    @staticmethod
    def _record_event(connection: Connection, record: EventRecord) -> bool:
        """Inserts the events row; False if this very log was recorded before."""
        existing = connection.execute(
            select(
                events.c.block_hash,
                events.c.tx_hash,
                events.c.event,
                events.c.contract,
                events.c.args,
            ).where(
                events.c.block_number == record.block_number,
                events.c.log_index == record.log_index,
            )
        ).one_or_none()
        if existing is not None:
            found = tuple(existing)
            expected = (
                record.block_hash,
                record.tx_hash,
                record.event,
                record.contract,
                record.args(),
            )
            if found != expected:
                raise IndexConflict(
                    f"the index holds another log at block {record.block_number}, log "
                    f"{record.log_index}: {found} instead of {expected}",
                    block_number=record.block_number,
                    log_index=record.log_index,
                )
            return False
        connection.execute(
            insert(events).values(
                block_number=record.block_number,
                block_hash=record.block_hash,
                tx_hash=record.tx_hash,
                tx_index=record.tx_index,
                log_index=record.log_index,
                contract=record.contract,
                event=record.event,
                args=record.args(),
            )
        )
        return True
