"""Checks of the PledgeRegistry's projections (properties, pledges with their ranks) against its
views, at the index's block, for every key the index holds or the chain's logs name."""

from __future__ import annotations

from registry.audit.checks import CheckResult, Record, VerifyContext, check, compare, hex32
from registry.chain.pledges import PledgeStatus, PropertyStatus
from registry.chain.values import currency_text
from registry.db.schema import pledges, properties
from registry.indexer.pledges import PledgeApplied, PropertyRegistered

__all__: list[str] = []

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
        (status, key_version, ltv, currency, applications, appraised, secured, case), room = (
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
            "case_ref": None if bytes(case) == bytes(32) else hex32(case),
            "headroom": room,
        }
    return compare("properties", PLEDGES, "chain", dict(indexed), witness)


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
