"""The ledger's attestations, advance-rate policy, per-declaration balances and recorded refusals,
from their events.

Projections (see :mod:`registry.db.schema`):

- ``declaration_attestations``: one entity per declaration fingerprint the verifier attested, a
  new version per correction, linked or not.
- ``advance_rates``: one entity per ledger contract, from ``AdvanceRatesSet`` (the constructor
  emits the first).
- ``declarations`` (the receivables' projection, :mod:`~registry.indexer.load`): ``standing``
  and ``counted_value`` from ``DeclarationCounted``, ``outstanding`` from ``DeclarationFinanced``
  and ``DeclarationRepaid``, which name the declaration by its index in the receivable's list.
- ``receivables.cap``: the contract computes a receivable's cap from the rates in force and its
  declarations' standings at every block, so the index moves it whenever one of those changes: an
  attestation of a declaration backing a live receivable moves that receivable's cap, a policy
  change moves every live receivable's (the one event that touches every receivable: it reads
  them all, once). The formula is the contract's, in the same integer arithmetic.
- ``refused_attempts``: one row per ``RegistrationRefused`` or ``FinancingRefused`` (append-only):
  who tried, which document, why, as an auditor replaying the chain must see them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from registry.contracts.ledger import ReceivableStatus, Standing
from registry.db.bulk import insert_rows
from registry.db.schema import advance_rates, declaration_attestations, refused_attempts
from registry.indexer.decode import (
    AdvanceRatesSet,
    DeclarationAttested,
    DeclarationCounted,
    DeclarationFinanced,
    DeclarationRepaid,
    EventRecord,
    FinancingRefused,
    RegistrationRefused,
)
from registry.indexer.errors import IndexConflict
from registry.indexer.versioned import VersionedTable

if TYPE_CHECKING:
    from registry.indexer.load import Handler, Projections

__all__ = ["BPS", "HANDLERS", "ReceivablePolicyProjections", "cap_of", "standing_name"]

BPS = 10_000
_ZERO_HASH = "0x" + "00" * 32
_ZERO_ADDRESS = "0x" + "00" * 20
_CANCELLED = ReceivableStatus.CANCELLED.name.lower()

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


def standing_name(standing: Standing) -> str:
    """The projection's spelling of a standing: ``unverified``, ``verified``,
    ``exporter_mismatch``."""
    return standing.name.lower()


class ReceivablePolicyProjections:
    """The chunk's working sets of ``declaration_attestations`` and ``advance_rates``, and its
    ``refused_attempts`` rows."""

    def __init__(self, connection: Connection) -> None:
        self.attestations = VersionedTable(connection, declaration_attestations, "fingerprint")
        self.advance_rates = VersionedTable(connection, advance_rates, "contract")
        self.refused: list[tuple[Any, ...]] = []
        """Rows of ``refused_attempts``, in the order of :data:`_REFUSED_COLUMNS`."""
        self._connection = connection

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        self.attestations.load(
            {r.declaration for r in records if isinstance(r, DeclarationAttested)}
        )
        # A recount after registration and a policy change compute caps under the rates in force.
        self.advance_rates.load(
            {r.contract for r in records if isinstance(r, AdvanceRatesSet | DeclarationCounted)}
        )

    def write(self) -> None:
        self.attestations.write()
        self.advance_rates.write()
        insert_rows(self._connection, refused_attempts, _REFUSED_COLUMNS, self.refused)


def _limit(declaration: Mapping[str, Any], rates: Mapping[str, Any]) -> int:
    rate = {
        standing_name(Standing.VERIFIED): rates["verified_bps"],
        standing_name(Standing.UNVERIFIED): rates["unverified_bps"],
    }.get(declaration["standing"], 0)
    return int(declaration["counted_value"] * rate // BPS)


def cap_of(p: Projections, receivable_id: str, rates: Mapping[str, Any]) -> int:
    """The contract's cap: min(face value x verified rate, sum of the declarations' limits), each
    limit counted value x the rate of its standing; 0 once cancelled."""
    receivable = p.receivables.get(receivable_id)
    if receivable is None or receivable["status"] == _CANCELLED:
        return 0
    by_face = int(receivable["face_value"] * rates["verified_bps"] // BPS)
    limits = 0
    for fingerprint in p.declarations.in_group(receivable_id):
        declaration = p.declarations.get(fingerprint)
        assert declaration is not None  # in_group lists current entities only
        limits += _limit(declaration, rates)
    return min(by_face, limits)


def _declaration_at(p: Projections, event: EventRecord, receivable_id: str, index: int) -> str:
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


def _on_attested(p: Projections, event: DeclarationAttested) -> None:
    p.receivable_policy.attestations.put(
        event.declaration,
        event.block_number,
        {
            "exporter": event.exporter,
            "attested_value": event.value,
            "export_date": event.export_date,
            "verifier": event.verifier,
        },
    )


def _on_counted(p: Projections, event: DeclarationCounted) -> None:
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
    # During a registration the receivable is absent (or the cancelled one being presented again)
    # and its ReceivableRegistered, which follows, carries the cap. Otherwise this is an
    # attestation moving a live receivable's cap.
    receivable = p.receivables.get(event.id)
    if receivable is not None and receivable["status"] != _CANCELLED:
        p.receivables.put(
            event.id,
            event.block_number,
            {
                "cap": cap_of(
                    p,
                    event.id,
                    p.receivable_policy.advance_rates.require(event.contract, event, "set"),
                )
            },
        )


def _on_balance(p: Projections, event: DeclarationFinanced | DeclarationRepaid) -> None:
    fingerprint = _declaration_at(p, event, event.id, event.index)
    p.declarations.put(fingerprint, event.block_number, {"outstanding": event.outstanding})


def _on_rates_set(p: Projections, event: AdvanceRatesSet) -> None:
    rates = {
        "verified_bps": event.verified_bps,
        "unverified_bps": event.unverified_bps,
        "admin": event.admin,
    }
    p.receivable_policy.advance_rates.put(event.contract, event.block_number, rates)
    # Every live receivable's cap follows; read them and their declarations all at once.
    p.declarations.load_all()
    for receivable_id in p.receivables.current_keys():
        receivable = p.receivables.get(receivable_id)
        assert receivable is not None  # a current key
        if receivable["status"] == _CANCELLED:
            continue
        cap = cap_of(p, receivable_id, rates)
        if cap != receivable["cap"]:
            p.receivables.put(receivable_id, event.block_number, {"cap": cap})


def _on_registration_refused(p: Projections, event: RegistrationRefused) -> None:
    p.receivable_policy.refused.append(
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


def _on_financing_refused(p: Projections, event: FinancingRefused) -> None:
    p.receivable_policy.refused.append(
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


HANDLERS: Mapping[type[EventRecord], Handler] = {
    AdvanceRatesSet: _on_rates_set,
    DeclarationAttested: _on_attested,
    DeclarationCounted: _on_counted,
    DeclarationFinanced: _on_balance,
    DeclarationRepaid: _on_balance,
    FinancingRefused: _on_financing_refused,
    RegistrationRefused: _on_registration_refused,
}
"""The loader's handlers of the ledger's policy, attestation, balance and refusal events."""
