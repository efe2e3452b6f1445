"""The ReceivableLedger's events, and the projections built from them.

Projections (see :mod:`registry.db.schema`):

- ``receivables``: status ``registered`` / ``financed`` / ``settled`` / ``cancelled`` (the
  contract's enum names), amounts and financier as the contract's ``getReceivable`` returns them.
  The registration event does not carry the declared value; it is the sum of the declarations
  linked to the receivable, whose events come first in the same transaction.
- ``declarations``: one entity per declaration fingerprint while linked, with its index in the
  receivable's list, standing and counted value (from ``DeclarationCounted``) and outstanding
  balance (from ``DeclarationFinanced`` and ``DeclarationRepaid``, which name the declaration by
  its index in the receivable's list); its version is closed when its receivable is cancelled,
  because the contract frees the links then.
- ``financings``: one row per drawdown or repayment, with the balance after it (append-only).
- ``declaration_attestations``: one entity per declaration fingerprint the verifier attested, a
  new version per correction, linked or not.
- ``advance_rates``: one entity per ledger contract, from ``AdvanceRatesSet`` (the constructor
  emits the first).
- a receivable's cap is not stored: the contract computes it from the rates in force and its
  declarations' standings at every block, and so does a read of the index
  (:func:`registry.db.read.receivables_as_of`, with the contract's formula,
  :func:`registry.contracts.ledger.cap_of`), from the versions in force at the block read. What
  the index stores changes only with what an event names: a policy change writes one row, however
  many receivables are live, and an attestation writes its declaration's.
- ``refused_attempts``: one row per ``RegistrationRefused`` or ``FinancingRefused`` (append-only):
  who tried, which document, why, as an auditor replaying the chain must see them.

The ledger's access events (roles, institutions) are every contract's:
:mod:`~registry.indexer.access`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from eth_typing import ChecksumAddress, HexStr
from sqlalchemy import Connection

from registry.contracts.ledger import ReceivableStatus, RefusalReason, Standing
from registry.db.bulk import insert_rows
from registry.db.schema import (
    advance_rates,
    declaration_attestations,
    declarations,
    financings,
    receivables,
    refused_attempts,
)
from registry.indexer.decode import EventRecord, enum_argument
from registry.indexer.errors import IndexConflict
from registry.indexer.load import IndexedContract
from registry.indexer.versioned import VersionedTable

__all__ = [
    "CONTRACT",
    "AdvanceRatesSet",
    "DeclarationAttested",
    "DeclarationCounted",
    "DeclarationFinanced",
    "DeclarationLinked",
    "DeclarationRepaid",
    "FinancingRefused",
    "LedgerProjections",
    "ReceivableCancelled",
    "ReceivableFinanced",
    "ReceivableRegistered",
    "ReceivableRepaid",
    "RegistrationRefused",
    "standing_name",
    "status_name",
]

_ZERO_HASH = "0x" + "00" * 32
_ZERO_ADDRESS = "0x" + "00" * 20
_SETTLED = ReceivableStatus.SETTLED


def status_name(status: ReceivableStatus) -> str:
    """The projection's spelling of a contract status."""
    return status.name.lower()


_CANCELLED = status_name(ReceivableStatus.CANCELLED)


def standing_name(standing: Standing) -> str:
    """The projection's spelling of a standing: ``unverified``, ``verified``,
    ``exporter_mismatch``."""
    return standing.name.lower()


@dataclass(frozen=True, kw_only=True)
class ReceivableRegistered(EventRecord):
    id: HexStr
    registrant: ChecksumAddress
    exporter: HexStr
    key_version: int
    face_value: int
    currency: str
    maturity: int
    advance_rate_bps: int
    cap: int


@dataclass(frozen=True, kw_only=True)
class DeclarationLinked(EventRecord):
    declaration: HexStr
    id: HexStr
    value: int


@dataclass(frozen=True, kw_only=True)
class ReceivableFinanced(EventRecord):
    id: HexStr
    bank: ChecksumAddress
    amount: int
    outstanding: int


@dataclass(frozen=True, kw_only=True)
class ReceivableRepaid(EventRecord):
    id: HexStr
    bank: ChecksumAddress
    amount: int
    outstanding: int
    status: ReceivableStatus

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        return cls(status=enum_argument(cls.__name__, values, "status", ReceivableStatus), **values)


@dataclass(frozen=True, kw_only=True)
class ReceivableCancelled(EventRecord):
    id: HexStr
    bank: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class DeclarationCounted(EventRecord):
    declaration: HexStr
    id: HexStr
    index: int
    standing: Standing
    counted_value: int

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        return cls(standing=enum_argument(cls.__name__, values, "standing", Standing), **values)


@dataclass(frozen=True, kw_only=True)
class DeclarationAttested(EventRecord):
    declaration: HexStr
    exporter: HexStr
    verifier: ChecksumAddress
    value: int
    export_date: int


@dataclass(frozen=True, kw_only=True)
class DeclarationFinanced(EventRecord):
    id: HexStr
    index: int
    amount: int
    outstanding: int


@dataclass(frozen=True, kw_only=True)
class DeclarationRepaid(EventRecord):
    id: HexStr
    index: int
    amount: int
    outstanding: int


@dataclass(frozen=True, kw_only=True)
class AdvanceRatesSet(EventRecord):
    verified_bps: int
    unverified_bps: int
    admin: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class RegistrationRefused(EventRecord):
    id: HexStr
    document: HexStr
    institution: HexStr
    account: ChecksumAddress
    reason: RefusalReason
    face_value: int
    conflict: HexStr

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        return cls(reason=enum_argument(cls.__name__, values, "reason", RefusalReason), **values)


@dataclass(frozen=True, kw_only=True)
class FinancingRefused(EventRecord):
    id: HexStr
    institution: HexStr
    account: ChecksumAddress
    reason: RefusalReason
    amount: int
    headroom: int
    financier: ChecksumAddress

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        return cls(reason=enum_argument(cls.__name__, values, "reason", RefusalReason), **values)


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

_REFUSED_COLUMNS = (
    "block_number",
    "log_index",
    "tx_hash",
    "contract",
    "action",
    "reason",
    "receivable_id",
    "document",
    "institution",
    "account",
    "amount",
    "conflict",
    "headroom",
    "financier",
)


class LedgerProjections:
    """The chunk's working sets of ``receivables``, ``declarations`` (grouped by receivable),
    ``declaration_attestations`` and ``advance_rates``, and its ``financings`` and
    ``refused_attempts`` rows."""

    def __init__(self, connection: Connection) -> None:
        self.receivables = VersionedTable(connection, receivables, "id")
        self.declarations = VersionedTable(
            connection, declarations, "fingerprint", group="receivable_id"
        )
        self.attestations = VersionedTable(connection, declaration_attestations, "fingerprint")
        self.advance_rates = VersionedTable(connection, advance_rates, "contract")
        self.financings: list[tuple[Any, ...]] = []
        """Rows of ``financings``, in the order of :data:`_FINANCING_COLUMNS`."""
        self.refused: list[tuple[Any, ...]] = []
        """Rows of ``refused_attempts``, in the order of :data:`_REFUSED_COLUMNS`."""
        self._connection = connection

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        receivable_ids = {r.id for r in records if isinstance(r, _RECEIVABLE_EVENTS)}
        fingerprints = {
            r.declaration for r in records if isinstance(r, DeclarationLinked | DeclarationCounted)
        }
        self.receivables.load(receivable_ids)
        # A registration sums, a cancellation unlinks, the declarations of its receivable.
        self.declarations.load(fingerprints, receivable_ids)
        self.attestations.load(
            {r.declaration for r in records if isinstance(r, DeclarationAttested)}
        )
        self.advance_rates.load({r.contract for r in records if isinstance(r, AdvanceRatesSet)})

    def write(self) -> None:
        self.receivables.write()
        self.declarations.write()
        insert_rows(self._connection, financings, _FINANCING_COLUMNS, self.financings)
        self.attestations.write()
        self.advance_rates.write()
        insert_rows(self._connection, refused_attempts, _REFUSED_COLUMNS, self.refused)


def _declared_value(p: LedgerProjections, receivable_id: str) -> int:
    total = 0
    for fingerprint in p.declarations.in_group(receivable_id):
        linked = p.declarations.get(fingerprint)
        assert linked is not None  # in_group lists current entities only
        total += linked["value"]
    return total


def _on_registered(p: LedgerProjections, event: ReceivableRegistered) -> None:
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
            "declared_value": _declared_value(p, event.id),
            "outstanding": 0,
            "financier": None,
            "registered_block": event.block_number,
        },
    )


def _on_declaration_linked(p: LedgerProjections, event: DeclarationLinked) -> None:
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
    p: LedgerProjections, event: ReceivableFinanced | ReceivableRepaid, kind: str
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


def _on_financed(p: LedgerProjections, event: ReceivableFinanced) -> None:
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


def _on_repaid(p: LedgerProjections, event: ReceivableRepaid) -> None:
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


def _on_cancelled(p: LedgerProjections, event: ReceivableCancelled) -> None:
    p.receivables.require(event.id, event, "registered")
    # Its declarations are free (and with none, its cap reads 0, as the contract's).
    p.receivables.put(event.id, event.block_number, {"status": _CANCELLED})
    for fingerprint in p.declarations.in_group(event.id):
        p.declarations.remove(fingerprint, event.block_number)


def _declaration_at(
    p: LedgerProjections, event: EventRecord, receivable_id: str, index: int
) -> str:
    for fingerprint in p.declarations.in_group(receivable_id):
        declaration = p.declarations.get(fingerprint)
        if declaration is not None and declaration["list_index"] == index:
            return fingerprint
    raise IndexConflict(
        f"{event.event} at block {event.block_number} names declaration {index} of "
        f"receivable {receivable_id}, which the index does not hold",
        receivable=receivable_id,
        index=index,
    )


def _on_attested(p: LedgerProjections, event: DeclarationAttested) -> None:
    p.attestations.put(
        event.declaration,
        event.block_number,
        {
            "exporter": event.exporter,
            "attested_value": event.value,
            "export_date": event.export_date,
            "verifier": event.verifier,
        },
    )


def _on_counted(p: LedgerProjections, event: DeclarationCounted) -> None:
    p.declarations.require(event.declaration, event, "linked")
    p.declarations.put(
        event.declaration,
        event.block_number,
        {
            "list_index": event.index,
            "standing": standing_name(event.standing),
            "counted_value": event.counted_value,
        },
    )


def _on_balance(p: LedgerProjections, event: DeclarationFinanced | DeclarationRepaid) -> None:
    fingerprint = _declaration_at(p, event, event.id, event.index)
    p.declarations.put(fingerprint, event.block_number, {"outstanding": event.outstanding})


def _on_rates_set(p: LedgerProjections, event: AdvanceRatesSet) -> None:
    rates = {
        "verified_bps": event.verified_bps,
        "unverified_bps": event.unverified_bps,
        "admin": event.admin,
    }
    # One row: every live receivable's cap follows on read (see the module's docstring).
    p.advance_rates.put(event.contract, event.block_number, rates)


def _on_registration_refused(p: LedgerProjections, event: RegistrationRefused) -> None:
    p.refused.append(
        (
            event.block_number,
            event.log_index,
            event.tx_hash,
            event.contract,
            "register",
            event.reason.rule,
            event.id,
            event.document,
            event.institution,
            event.account,
            event.face_value,
            None if event.conflict == _ZERO_HASH else event.conflict,
            None,
            None,
        )
    )


def _on_financing_refused(p: LedgerProjections, event: FinancingRefused) -> None:
    p.refused.append(
        (
            event.block_number,
            event.log_index,
            event.tx_hash,
            event.contract,
            "finance",
            event.reason.rule,
            event.id,
            event.id,
            event.institution,
            event.account,
            event.amount,
            None,
            event.headroom,
            None if event.financier == _ZERO_ADDRESS else event.financier,
        )
    )


CONTRACT: IndexedContract[LedgerProjections] = IndexedContract(
    name="ReceivableLedger",
    projections=LedgerProjections,
    handlers={
        AdvanceRatesSet: _on_rates_set,
        DeclarationAttested: _on_attested,
        DeclarationCounted: _on_counted,
        DeclarationFinanced: _on_balance,
        DeclarationLinked: _on_declaration_linked,
        DeclarationRepaid: _on_balance,
        FinancingRefused: _on_financing_refused,
        ReceivableCancelled: _on_cancelled,
        ReceivableFinanced: _on_financed,
        ReceivableRegistered: _on_registered,
        ReceivableRepaid: _on_repaid,
        RegistrationRefused: _on_registration_refused,
    },
)
"""The ledger's records, each with its handler, and their working set."""
