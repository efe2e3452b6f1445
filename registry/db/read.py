"""Reading the projections now or as of a past block (credit reports "as of" a date, auditors).

Every versioned projection (see :mod:`registry.db.schema`) is read the same way: the versions
valid at block B are those with ``valid_from_block <= B`` and ``valid_to_block`` NULL or above B;
now (``block=None``) means the current versions, ``valid_to_block IS NULL``. Append-only tables
(financings, read-log anchors) hold at block B the rows of blocks up to B.

An answer as of block B is complete only if the index has reached B: callers that take B from a
user compare it with the cursor first (:func:`registry.indexer.read_cursor`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Table, and_, or_, select

from registry.contracts.ledger import AdvanceRates, Standing, cap_of
from registry.db.schema import (
    VERSIONED,
    advance_rates,
    consents,
    declarations,
    enterprise_bindings,
    financings,
    institution_assignments,
    pledges,
    properties,
    read_log_anchors,
    receivables,
    role_grants,
    seizures,
)

__all__ = [
    "as_of",
    "consent_active_as_of",
    "consent_as_of",
    "consents_as_of",
    "declarations_as_of",
    "enterprise_bindings_as_of",
    "financings_as_of",
    "institution_assignments_as_of",
    "pledge_as_of",
    "pledge_rejections_as_of",
    "pledges_as_of",
    "projection_as_of",
    "properties_as_of",
    "property_as_of",
    "read_log_anchors_as_of",
    "receivable_as_of",
    "receivables_as_of",
    "role_grants_as_of",
    "seizures_as_of",
    "title_as_of",
    "with_caps",
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


def receivables_as_of(connection: Connection, block: int | None = None) -> list[dict[str, Any]]:
    """Every receivable as it was at ``block``, with its cap then (:func:`with_caps`)."""
    return with_caps(connection, projection_as_of(connection, receivables, block), block)


def receivable_as_of(
    connection: Connection, receivable_id: str, block: int | None = None
) -> dict[str, Any] | None:
    """One receivable (``0x``-hex id) as it was at ``block``, with its cap then; None if it did
    not exist then."""
    rows = projection_as_of(connection, receivables, block, receivables.c.id == receivable_id)
    return with_caps(connection, rows, block)[0] if rows else None


_FEW_RECEIVABLES = 500
"""Up to this many, the declarations of the receivables read are asked for by id; beyond, all
declarations in force are read at once (one scan instead of a long ``IN`` list)."""


def with_caps(
    connection: Connection, rows: Sequence[RowMapping], block: int | None
) -> list[dict[str, Any]]:
    """``rows`` of ``receivables`` (as of ``block``) with their ``cap`` as the contract's
    ``getReceivable`` gave it at that block: computed here from the declarations and the advance
    rates in force then, so that a policy change costs the index one row, not one per live
    receivable. A cancelled receivable's declarations are unlinked: its cap is 0."""
    if not rows:
        return []
    (rates,) = projection_as_of(connection, advance_rates, block) or (None,)
    ids = [row["id"] for row in rows]
    narrowed = [declarations.c.receivable_id.in_(ids)] if len(ids) <= _FEW_RECEIVABLES else []
    counted: dict[str, list[tuple[Standing, int]]] = defaultdict(list)
    for declaration in projection_as_of(connection, declarations, block, *narrowed):
        standing = Standing[str(declaration["standing"]).upper()]
        counted[declaration["receivable_id"]].append((standing, int(declaration["counted_value"])))
    policy = None if rates is None else AdvanceRates(rates["verified_bps"], rates["unverified_bps"])
    return [
        {
            **row,
            "cap": 0
            if policy is None
            else cap_of(int(row["face_value"]), counted.get(row["id"], ()), policy),
        }
        for row in rows
    ]


def declarations_as_of(connection: Connection, block: int | None = None) -> Sequence[RowMapping]:
    return projection_as_of(connection, declarations, block)


def financings_as_of(connection: Connection, block: int | None = None) -> Sequence[RowMapping]:
    """Drawdowns and repayments up to ``block`` (None: all), in chain order."""
    statement = select(financings).order_by(financings.c.block_number, financings.c.log_index)
    if block is not None:
        statement = statement.where(financings.c.block_number <= block)
    return connection.execute(statement).mappings().all()


# --- Pledges, consents and access ----------------------------------------------------------------


def properties_as_of(connection: Connection, block: int | None = None) -> Sequence[RowMapping]:
    return projection_as_of(connection, properties, block)


def property_as_of(
    connection: Connection, fingerprint: str, block: int | None = None
) -> RowMapping | None:
    """One property (``0x``-hex fingerprint) as it was at ``block``; None if not registered then."""
    rows = projection_as_of(connection, properties, block, properties.c.fingerprint == fingerprint)
    return rows[0] if rows else None


def pledges_as_of(
    connection: Connection, block: int | None = None, *, property_fp: str | None = None
) -> Sequence[RowMapping]:
    """Every pledge (of one property, given ``property_fp``) as it was at ``block``."""
    where = [] if property_fp is None else [pledges.c.property == property_fp]
    return projection_as_of(connection, pledges, block, *where)


def title_as_of(
    connection: Connection, property_fp: str, block: int | None = None
) -> Sequence[RowMapping]:
    """The active pledges of a property at ``block`` in rank order (rank 1, paid first, first):
    the pledges of the contract's ``titleOf``."""
    return (
        connection.execute(
            select(pledges)
            .where(
                as_of(pledges, block),
                pledges.c.property == property_fp,
                pledges.c.status == "active",
            )
            .order_by(pledges.c.rank)
        )
        .mappings()
        .all()
    )


def pledge_as_of(
    connection: Connection, pledge_id: str, block: int | None = None
) -> RowMapping | None:
    """One pledge (``0x``-hex id) as it was at ``block``; None if not applied for then."""
    rows = projection_as_of(connection, pledges, block, pledges.c.id == pledge_id)
    return rows[0] if rows else None


def seizures_as_of(
    connection: Connection, block: int | None = None, *, property_fp: str | None = None
) -> Sequence[RowMapping]:
    """Every seizure (of one property, given ``property_fp``) as it was at ``block``: in force
    or lifted, with the court that imposed it."""
    where = [] if property_fp is None else [seizures.c.property == property_fp]
    return projection_as_of(connection, seizures, block, *where)


def pledge_rejections_as_of(
    connection: Connection, block: int | None = None
) -> Sequence[RowMapping]:
    """The refused pledge applications recorded on chain up to ``block`` (None: all), in the order
    they were refused: who applied (account and institution), for which property and amount, the
    reason code, the registrar that recorded it and the block it did (``valid_from_block``)."""
    return (
        connection.execute(
            select(pledges)
            .where(as_of(pledges, block), pledges.c.status == "rejected")
            .order_by(pledges.c.valid_from_block, pledges.c.id)
        )
        .mappings()
        .all()
    )


def enterprise_bindings_as_of(
    connection: Connection, block: int | None = None
) -> Sequence[RowMapping]:
    return projection_as_of(connection, enterprise_bindings, block)


def consents_as_of(
    connection: Connection, block: int | None = None, *, enterprise: str | None = None
) -> Sequence[RowMapping]:
    """Every consent record (of one enterprise, given ``enterprise``) as it was at ``block``."""
    where = [] if enterprise is None else [consents.c.enterprise == enterprise]
    return projection_as_of(connection, consents, block, *where)


def consent_as_of(
    connection: Connection,
    enterprise: str,
    grantee_institution: str,
    scope: str,
    block: int | None = None,
) -> RowMapping | None:
    """The last message applied to (enterprise, grantee, scope) by ``block``; None if none was."""
    # The key as registry.indexer.consents.consent_key spells it.
    rows = projection_as_of(
        connection, consents, block, consents.c.id == f"{enterprise}/{grantee_institution}/{scope}"
    )
    return rows[0] if rows else None


def consent_active_as_of(
    connection: Connection,
    enterprise: str,
    grantee_institution: str,
    scope: str,
    timestamp: int,
    block: int | None = None,
) -> bool:
    """Whether the consent was active at unix time ``timestamp``, by the records of ``block``:
    the contract's rule (granted, signed under the enterprise's current binding, which is bound,
    and ``timestamp`` before the expiry)."""
    consent = consent_as_of(connection, enterprise, grantee_institution, scope, block)
    if consent is None or consent["status"] != "granted":
        return False
    bindings = projection_as_of(
        connection, enterprise_bindings, block, enterprise_bindings.c.enterprise == enterprise
    )
    return (
        bool(bindings)
        and bool(bindings[0]["bound"])
        and bindings[0]["epoch"] == consent["epoch"]
        and consent["expiry"] > timestamp
    )


def role_grants_as_of(
    connection: Connection, block: int | None = None, *, contract: str | None = None
) -> Sequence[RowMapping]:
    """Every (contract, role, account) ever granted, ``granted`` or ``revoked`` at ``block``."""
    where = [] if contract is None else [role_grants.c.contract == contract]
    return projection_as_of(connection, role_grants, block, *where)


def institution_assignments_as_of(
    connection: Connection, block: int | None = None
) -> Sequence[RowMapping]:
    """The accounts acting for an institution other than themselves at ``block``."""
    return projection_as_of(connection, institution_assignments, block)


def read_log_anchors_as_of(
    connection: Connection, block: int | None = None
) -> Sequence[RowMapping]:
    """The read-log batches anchored up to ``block`` (None: all), in batch order."""
    statement = select(read_log_anchors).order_by(
        read_log_anchors.c.contract, read_log_anchors.c.batch_index
    )
    if block is not None:
        statement = statement.where(read_log_anchors.c.block_number <= block)
    return connection.execute(statement).mappings().all()
