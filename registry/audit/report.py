"""The auditor's report of a block range: refused attempts, seizures, role changes, consent grants
and revocations, anchored read-log roots.

Built from the ``events`` table alone (every row has its contract, event name, decoded arguments,
block and transaction), not from the projections, so that it covers an event as soon as the
indexer records it, whether or not a projection of it exists yet. :data:`SECTIONS` is the one
place that says which event goes in which section; an event it does not name is not reported.

A range past the index's cursor is refused: the report would silently miss the blocks the index
has not reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from registry.contracts.deploy import Deployment
from registry.contracts.ledger import RefusalReason
from registry.contracts.roles import ROLE_NAMES
from registry.db.schema import events
from registry.errors import InvalidInput
from registry.indexer import CURSOR_NAME, read_cursor

__all__ = ["SECTIONS", "AuditEntry", "AuditReport", "build_report"]

SECTIONS: Mapping[str, tuple[str, ...]] = {
    "refused attempts": ("RegistrationRefused", "FinancingRefused", "PledgeRejected"),
    "seizures": ("SeizureImposed", "SeizureLifted"),
    "role changes": ("RoleGranted", "RoleRevoked", "RoleAdminChanged", "InstitutionAssigned"),
    "consents": ("ConsentGranted", "ConsentRevoked", "EnterpriseBound", "EnterpriseUnbound"),
    "read-log anchors": ("ReadLogAnchored",),
}
"""Report section -> the events it lists. Pledge rejections count as refused attempts (a
registrar or the rules refused a pledge); enterprise bindings sit with the consents, whose
validity they decide."""

_SECTION_OF = {event: section for section, names in SECTIONS.items() for event in names}


@dataclass(frozen=True)
class AuditEntry:
    block_number: int
    log_index: int
    tx_hash: str
    contract: str
    """The contract's name in the deployment (its address if not one of ours)."""
    event: str
    args: Mapping[str, str]
    note: str | None
    """A reading of a coded argument: the rule a refusal broke, the role's name."""

    def to_json(self) -> dict[str, object]:
        return {
            "block_number": self.block_number,
            "log_index": self.log_index,
            "tx_hash": self.tx_hash,
            "contract": self.contract,
            "event": self.event,
            "args": dict(self.args),
            "note": self.note,
        }


@dataclass(frozen=True)
class AuditReport:
    from_block: int
    to_block: int
    sections: dict[str, list[AuditEntry]] = field(default_factory=dict)

    @property
    def entries(self) -> int:
        return sum(len(entries) for entries in self.sections.values())

    def to_json(self) -> dict[str, object]:
        return {
            "from_block": self.from_block,
            "to_block": self.to_block,
            "sections": {
                name: [entry.to_json() for entry in entries]
                for name, entries in self.sections.items()
            },
        }


def _note(event: str, args: Mapping[str, str]) -> str | None:
    if event in ("RegistrationRefused", "FinancingRefused") and "reason" in args:
        try:
            return RefusalReason(int(args["reason"])).rule
        except ValueError:
            return f"reason {args['reason']}"
    if event in ("RoleGranted", "RoleRevoked") and "role" in args:
        return ROLE_NAMES.get(args["role"], "unknown role")
    if event == "PledgeRejected" and "reasonCode" in args:
        return f"reason code {args['reasonCode']}"
    return None


def build_report(
    engine: sa.Engine,
    deployment: Deployment,
    from_block: int,
    to_block: int,
    *,
    cursor_name: str = CURSOR_NAME,
) -> AuditReport:
    """The report of blocks ``from_block..to_block`` (inclusive) from the index behind
    ``engine``."""
    if from_block < 0:
        raise InvalidInput("from_block", "block-range", "--from-block must not be negative")
    if to_block < from_block:
        raise InvalidInput(
            "to_block", "block-range", f"--to-block {to_block} is below --from-block {from_block}"
        )
    names = {contract.address.lower(): name for name, contract in deployment.contracts.items()}
    with engine.connect() as connection:
        cursor = read_cursor(connection, cursor_name)
        reached = deployment.deployment_block - 1 if cursor is None else cursor.block_number
        if to_block > reached:
            raise InvalidInput(
                "to_block",
                "block-not-indexed",
                f"the index has reached block {reached}; run the indexer or lower --to-block "
                f"{to_block}",
            )
        rows = connection.execute(
            sa.select(
                events.c.block_number,
                events.c.log_index,
                events.c.tx_hash,
                events.c.contract,
                events.c.event,
                events.c.args,
            )
            .where(
                events.c.block_number.between(from_block, to_block),
                events.c.event.in_(sorted(_SECTION_OF)),
            )
            .order_by(events.c.block_number, events.c.log_index)
        ).all()
    report = AuditReport(from_block, to_block, {section: [] for section in SECTIONS})
    for row in rows:
        args = {str(k): str(v) for k, v in dict(row.args).items()}
        report.sections[_SECTION_OF[row.event]].append(
            AuditEntry(
                block_number=row.block_number,
                log_index=row.log_index,
                tx_hash=row.tx_hash,
                contract=names.get(row.contract.lower(), row.contract),
                event=row.event,
                args=args,
                note=_note(row.event, args),
            )
        )
    return report
