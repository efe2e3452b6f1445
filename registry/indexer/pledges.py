"""The PledgeRegistry's events, and the ``properties`` and ``pledges`` projections built from them.

- ``properties``: status ``normal`` or ``seized`` (with the number of seizures in force), appraisal,
  maximum LTV, the secured total of the active pledges, the headroom (appraisal x LTV - secured,
  floored at 0; 0 while seized: the contract's ``headroom``), the number of applications: what the
  contract's ``getProperty`` and ``headroom`` return.
- ``seizures``: each court's seizure of a property under its case, ``in_force`` or ``lifted``,
  with the court (institution) that imposed it: what the contract's ``seizureOf`` returns.
- ``pledges``: status ``pending`` / ``active`` / ``rejected`` / ``released`` (the contract's enum
  names), the pledgee (account and institution), amount, maturity, and the rank while active. Ranks
  follow approval order among the active pledges of a property; when one is released every junior
  moves up one rank, which makes a new version of each junior at that block, so that a title read
  as of any block shows the ranks of that block.
- Refused applications: a rejection (by the rules through ``decidePledge``, or by a clerk) is the
  pledge's ``rejected`` version, with its reason code and the registrar who recorded it:
  :func:`registry.db.read.pledge_rejections_as_of` lists them.

The events carry the contract's own results (the rank of an approval or release, the secured total,
the headroom); the handlers check them against the index's state, and a difference is an
:class:`~registry.indexer.errors.IndexConflict`: the index would otherwise describe another chain.

``DefaultMaxLtvSet`` (policy for properties registered later) has no projection: its events row is
the record, and each property carries the LTV it was registered with.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress, HexStr
from sqlalchemy import Connection

from registry.db.schema import pledges, properties, seizures
from registry.indexer.decode import EventRecord
from registry.indexer.errors import IndexConflict
from registry.indexer.load import IndexedContract, event_row_only
from registry.indexer.versioned import VersionedTable

__all__ = [
    "CONTRACT",
    "AppraisalUpdated",
    "DefaultMaxLtvSet",
    "PledgeApplied",
    "PledgeApproved",
    "PledgeProjections",
    "PledgeRejected",
    "PledgeReleased",
    "PledgeStatus",
    "PropertyRegistered",
    "PropertyStatus",
    "SeizureImposed",
    "SeizureLifted",
    "SeizureStatus",
    "headroom",
]

_BPS = 10_000


class PropertyStatus(enum.StrEnum):
    """The projection's spelling of ``IPledgeRegistry.PropertyStatus``."""

    NORMAL = "normal"
    SEIZED = "seized"


class SeizureStatus(enum.StrEnum):
    IN_FORCE = "in_force"
    LIFTED = "lifted"


class PledgeStatus(enum.StrEnum):
    """The projection's spelling of ``IPledgeRegistry.PledgeStatus``."""

    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    RELEASED = "released"


@dataclass(frozen=True, kw_only=True)
class PropertyRegistered(EventRecord):
    property: HexStr
    registrar: ChecksumAddress
    key_version: int
    appraised_value: int
    currency: str
    max_ltv_bps: int


@dataclass(frozen=True, kw_only=True)
class AppraisalUpdated(EventRecord):
    property: HexStr
    registrar: ChecksumAddress
    appraised_value: int
    headroom: int


@dataclass(frozen=True, kw_only=True)
class PledgeApplied(EventRecord):
    pledge_id: HexStr
    property: HexStr
    lender: ChecksumAddress
    institution: HexStr
    sequence: int
    amount: int
    currency: str
    maturity: int


@dataclass(frozen=True, kw_only=True)
class PledgeApproved(EventRecord):
    pledge_id: HexStr
    property: HexStr
    registrar: ChecksumAddress
    rank: int
    amount: int
    secured_amount: int
    headroom: int


@dataclass(frozen=True, kw_only=True)
class PledgeRejected(EventRecord):
    pledge_id: HexStr
    property: HexStr
    institution: HexStr
    lender: ChecksumAddress
    reason_code: int
    amount: int
    headroom: int
    registrar: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class PledgeReleased(EventRecord):
    pledge_id: HexStr
    property: HexStr
    released_by: ChecksumAddress
    rank: int
    amount: int
    secured_amount: int
    headroom: int


@dataclass(frozen=True, kw_only=True)
class SeizureImposed(EventRecord):
    property: HexStr
    case_ref: HexStr
    enforcer: ChecksumAddress
    court: HexStr
    seizures: int


@dataclass(frozen=True, kw_only=True)
class SeizureLifted(EventRecord):
    property: HexStr
    case_ref: HexStr
    enforcer: ChecksumAddress
    court: HexStr
    seizures: int


@dataclass(frozen=True, kw_only=True)
class DefaultMaxLtvSet(EventRecord):
    max_ltv_bps: int
    admin: ChecksumAddress


_PROPERTY_EVENTS = (
    PropertyRegistered,
    AppraisalUpdated,
    PledgeApplied,
    PledgeApproved,
    PledgeRejected,
    PledgeReleased,
    SeizureImposed,
    SeizureLifted,
)
_PLEDGE_EVENTS = (PledgeApplied, PledgeApproved, PledgeRejected, PledgeReleased)


def headroom(values: Mapping[str, Any]) -> int:
    """The contract's ``_headroom`` of a ``properties`` row: appraisal x LTV minus the secured
    total, floored at 0; 0 unless the property is normal."""
    if values["status"] != PropertyStatus.NORMAL:
        return 0
    cap = int(values["appraised_value"]) * int(values["max_ltv_bps"]) // _BPS
    return max(cap - int(values["secured_amount"]), 0)


class PledgeProjections:
    """The chunk's working sets of ``properties``, ``pledges`` (grouped by property, for the
    ranks) and ``seizures``."""

    def __init__(self, connection: Connection) -> None:
        self.properties = VersionedTable(connection, properties, "fingerprint")
        self.pledges = VersionedTable(connection, pledges, "id", group="property")
        self.seizures = VersionedTable(connection, seizures, "id")

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        self.properties.load({r.property for r in records if isinstance(r, _PROPERTY_EVENTS)})
        # An approval counts, a release re-ranks, the active pledges of the property.
        reranked = {r.property for r in records if isinstance(r, PledgeApproved | PledgeReleased)}
        self.pledges.load({r.pledge_id for r in records if isinstance(r, _PLEDGE_EVENTS)}, reranked)
        self.seizures.load(
            {seizure_key(r) for r in records if isinstance(r, SeizureImposed | SeizureLifted)}
        )

    def write(self) -> None:
        self.properties.write()
        self.pledges.write()
        self.seizures.write()

    def active(self, fingerprint: str) -> dict[str, int]:
        """The active pledges of a property: id -> rank."""
        ranks = {}
        for pledge_id in self.pledges.in_group(fingerprint):
            pledge = self.pledges.get(pledge_id)
            assert pledge is not None  # in_group lists current entities only
            if pledge["status"] == PledgeStatus.ACTIVE:
                ranks[pledge_id] = pledge["rank"]
        return ranks

    def set_property(self, event: EventRecord, fingerprint: str, **changes: Any) -> None:
        """Changes a property at the event's block, with its headroom recomputed; where the event
        states the headroom too, the two must agree."""
        values = {**self.properties.require(fingerprint, event, "registered"), **changes}
        room = headroom(values)
        stated = getattr(event, "headroom", None)
        _agree(event, "headroom", stated if stated is not None else room, room)
        self.properties.put(fingerprint, event.block_number, {**changes, "headroom": room})


def seizure_key(event: SeizureImposed | SeizureLifted) -> str:
    """The ``seizures`` entity of a seizure event: ``<property>/<case_ref>``."""
    return f"{event.property}/{event.case_ref}"


def _agree(event: EventRecord, what: str, stated: int, indexed: int) -> None:
    if stated != indexed:
        raise IndexConflict(
            f"{event.event} at block {event.block_number} states {what} {stated}; the index "
            f"makes it {indexed}",
            event=event.event,
            block_number=event.block_number,
        )


def _on_property_registered(p: PledgeProjections, event: PropertyRegistered) -> None:
    values = {
        "status": PropertyStatus.NORMAL.value,
        "registrar": event.registrar,
        "key_version": event.key_version,
        "appraised_value": event.appraised_value,
        "currency": event.currency,
        "max_ltv_bps": event.max_ltv_bps,
        "secured_amount": 0,
        "applications": 0,
        "seizures": 0,
        "registered_block": event.block_number,
    }
    p.properties.put(event.property, event.block_number, {**values, "headroom": headroom(values)})


def _on_appraisal_updated(p: PledgeProjections, event: AppraisalUpdated) -> None:
    p.set_property(event, event.property, appraised_value=event.appraised_value)


def _on_pledge_applied(p: PledgeProjections, event: PledgeApplied) -> None:
    p.set_property(event, event.property, applications=event.sequence)
    p.pledges.put(
        event.pledge_id,
        event.block_number,
        {
            "property": event.property,
            "sequence": event.sequence,
            "lender": event.lender,
            "institution": event.institution,
            "amount": event.amount,
            "currency": event.currency,
            "maturity": event.maturity,
            "status": PledgeStatus.PENDING.value,
            "rank": None,
            "reason_code": None,
            "decided_by": None,
            "released_by": None,
            "applied_block": event.block_number,
        },
    )


def _on_pledge_approved(p: PledgeProjections, event: PledgeApproved) -> None:
    p.pledges.require(event.pledge_id, event, "applied for")
    # The most junior: one more than the active pledges before it.
    _agree(event, "rank", event.rank, len(p.active(event.property)) + 1)
    p.pledges.put(
        event.pledge_id,
        event.block_number,
        {"status": PledgeStatus.ACTIVE.value, "rank": event.rank, "decided_by": event.registrar},
    )
    p.set_property(event, event.property, secured_amount=event.secured_amount)


def _on_pledge_rejected(p: PledgeProjections, event: PledgeRejected) -> None:
    p.pledges.require(event.pledge_id, event, "applied for")
    # The headroom the rules judged the application against: the property's, unchanged by it.
    _agree(
        event,
        "headroom",
        event.headroom,
        p.properties.require(event.property, event, "registered")["headroom"],
    )
    p.pledges.put(
        event.pledge_id,
        event.block_number,
        {
            "status": PledgeStatus.REJECTED.value,
            "reason_code": event.reason_code,
            "decided_by": event.registrar,
        },
    )


def _on_pledge_released(p: PledgeProjections, event: PledgeReleased) -> None:
    p.pledges.require(event.pledge_id, event, "applied for")
    ranks = p.active(event.property)
    _agree(event, "rank", event.rank, ranks.get(event.pledge_id, 0))
    p.pledges.put(
        event.pledge_id,
        event.block_number,
        {"status": PledgeStatus.RELEASED.value, "rank": None, "released_by": event.released_by},
    )
    for junior, rank in ranks.items():
        if rank > event.rank:
            p.pledges.put(junior, event.block_number, {"rank": rank - 1})
    p.set_property(event, event.property, secured_amount=event.secured_amount)


def _on_seizure_imposed(p: PledgeProjections, event: SeizureImposed) -> None:
    count = p.properties.require(event.property, event, "registered")["seizures"] + 1
    _agree(event, "seizures", event.seizures, count)
    p.set_property(event, event.property, status=PropertyStatus.SEIZED.value, seizures=count)
    p.seizures.put(
        seizure_key(event),
        event.block_number,
        {
            "property": event.property,
            "case_ref": event.case_ref,
            "court": event.court,
            "status": SeizureStatus.IN_FORCE.value,
            "imposed_by": event.enforcer,
            "lifted_by": None,
        },
    )


def _on_seizure_lifted(p: PledgeProjections, event: SeizureLifted) -> None:
    p.seizures.require(seizure_key(event), event, "imposed")
    count = p.properties.require(event.property, event, "registered")["seizures"] - 1
    _agree(event, "seizures", event.seizures, count)
    status = PropertyStatus.SEIZED if count else PropertyStatus.NORMAL
    p.set_property(event, event.property, status=status.value, seizures=count)
    p.seizures.put(
        seizure_key(event),
        event.block_number,
        {"status": SeizureStatus.LIFTED.value, "lifted_by": event.enforcer},
    )


CONTRACT: IndexedContract[PledgeProjections] = IndexedContract(
    name="PledgeRegistry",
    projections=PledgeProjections,
    handlers={
        AppraisalUpdated: _on_appraisal_updated,
        DefaultMaxLtvSet: event_row_only,
        PledgeApplied: _on_pledge_applied,
        PledgeApproved: _on_pledge_approved,
        PledgeRejected: _on_pledge_rejected,
        PledgeReleased: _on_pledge_released,
        PropertyRegistered: _on_property_registered,
        SeizureImposed: _on_seizure_imposed,
        SeizureLifted: _on_seizure_lifted,
    },
)
"""The PledgeRegistry's records, each with its handler, and their working set."""
