"""Checks of the PledgeRegistry's projections (properties, pledges with their ranks, seizures)
against its views, at the index's block, for every key the index holds or the chain's logs name."""

from __future__ import annotations

from registry.audit.checks import Check, CheckResult, Record, VerifyContext, check, compare, hex32
from registry.contracts.pledges import PledgeStatus, PropertyStatus
from registry.contracts.values import currency_text
from registry.db.schema import pledges, properties, seizures
from registry.indexer.pledges import (
    PledgeApplied,
    PropertyRegistered,
    SeizureImposed,
    SeizureStatus,
    seizure_key,
)

__all__ = ["CHECKS"]

PLEDGES = "PledgeRegistry"


@check("properties", contract=PLEDGES, source="chain")
def _properties(context: VerifyContext) -> CheckResult:
    indexed = {str(row["fingerprint"]): row for row in context.current(properties)}
    keys = sorted(set(indexed) | {r.property for r in context.events_of(PropertyRegistered)})
    answers = context.views(PLEDGES).call(
        [(view, [bytes.fromhex(key[2:])]) for key in keys for view in ("getProperty", "headroom")]
    )
    witness: dict[str, Record | None] = {}
    for i, key in enumerate(keys):
        (status, key_version, ltv, currency, applications, appraised, secured, seized), room = (
            answers[2 * i],
            answers[2 * i + 1],
        )
        if status == PropertyStatus.NONE:
            witness[key] = None
            continue
        witness[key] = {
            "status": PropertyStatus(status).name.lower(),
            "key_version": key_version,
            "max_ltv_bps": ltv,
            "currency": currency_text(currency),
            "applications": applications,
            "appraised_value": appraised,
            "secured_amount": secured,
            "seizures": seized,
            "headroom": room,
        }
    return compare("properties", PLEDGES, "chain", dict(indexed), witness)


@check("seizures", contract=PLEDGES, source="chain")
def _seizures(context: VerifyContext) -> CheckResult:
    """The contract keeps the seizures in force only: a lifted one reads as no court, so the
    index's lifted rows are compared by their court alone being absent on chain."""
    indexed = {str(row["id"]): row for row in context.current(seizures)}
    keys = sorted(set(indexed) | {seizure_key(r) for r in context.events_of(SeizureImposed)})
    answers = context.views(PLEDGES).call(
        [("seizureOf", [bytes.fromhex(key[2:66]), bytes.fromhex(key[69:])]) for key in keys]
    )
    witness: dict[str, Record | None] = {}
    for key, court in zip(keys, answers, strict=True):
        in_force = bytes(court) != bytes(32)
        witness[key] = {
            "status": (SeizureStatus.IN_FORCE if in_force else SeizureStatus.LIFTED).value,
            "court": hex32(court) if in_force else None,
        }
    index: dict[str, Record | None] = {
        key: {
            "status": row["status"],
            "court": row["court"] if row["status"] == SeizureStatus.IN_FORCE else None,
        }
        for key, row in indexed.items()
    }
    return compare("seizures", PLEDGES, "chain", index, witness)


@check("pledges", contract=PLEDGES, source="chain")
def _pledges(context: VerifyContext) -> CheckResult:
    indexed = {str(row["id"]): row for row in context.current(pledges)}
    keys = sorted(set(indexed) | {r.pledge_id for r in context.events_of(PledgeApplied)})
    answers = context.views(PLEDGES).call(
        [(view, [bytes.fromhex(key[2:])]) for key in keys for view in ("getPledge", "rankOf")]
    )
    witness: dict[str, Record | None] = {}
    for i, key in enumerate(keys):
        (status, reason, maturity, lender, property_fp, institution, amount), rank = (
            answers[2 * i],
            answers[2 * i + 1],
        )
        if status == PledgeStatus.NONE:
            witness[key] = None
            continue
        witness[key] = {
            "status": PledgeStatus(status).name.lower(),
            "reason_code": reason,
            "rank": rank,
            "maturity": maturity,
            "lender": lender,
            "property": hex32(property_fp),
            "institution": hex32(institution),
            "amount": amount,
        }
    # The contract says 0 where the index has no rank or reason (NULL unless active or rejected).
    index: dict[str, Record | None] = {
        key: {**row, "rank": row["rank"] or 0, "reason_code": row["reason_code"] or 0}
        for key, row in indexed.items()
    }
    return compare("pledges", PLEDGES, "chain", index, witness)


CHECKS: tuple[Check, ...] = (_properties, _seizures, _pledges)
"""This module's checks, in the order the verification runs them."""
