"""Checks of who may do what (role grants, institution assignments) on every contract of the
deployment, against ``hasRole`` and ``institutionOf`` at the index's block."""

from __future__ import annotations

from collections import defaultdict

from registry.audit.checks import Check, CheckResult, Record, VerifyContext, check, compare, hex32
from registry.contracts.consents import institution_id
from registry.db.schema import institution_assignments, role_grants
from registry.indexer.access import (
    InstitutionAssigned,
    RoleGranted,
    RoleRevoked,
    assignment_key,
    grant_key,
)

__all__ = ["CHECKS"]


def _names(context: VerifyContext) -> dict[str, str]:
    """Contract name by checksum address."""
    return {context.address(name): name for name in context.deployment.contracts}


@check("role_grants", contract="*", source="chain")
def _role_grants(context: VerifyContext) -> CheckResult:
    """Every (contract, role, account) the index or a log names: granted exactly when hasRole."""
    indexed = {str(row["id"]): row for row in context.current(role_grants)}
    changes: list[RoleGranted | RoleRevoked] = [
        *context.events_of(RoleGranted),
        *context.events_of(RoleRevoked),
    ]
    triples: dict[str, tuple[str, str, str]] = {
        grant_key(r.contract, r.role, r.account): (r.contract, r.role, r.account) for r in changes
    }
    for key, row in indexed.items():
        triples.setdefault(key, (str(row["contract"]), str(row["role"]), str(row["account"])))
    by_contract: dict[str, list[str]] = defaultdict(list)
    for key in sorted(triples):
        by_contract[triples[key][0]].append(key)
    names = _names(context)
    witness: dict[str, Record | None] = {}
    for address, keys in by_contract.items():
        if address not in names:
            continue  # the index names a contract outside the deployment: the index side shows it
        answers = context.views(names[address]).call(
            [("hasRole", [bytes.fromhex(triples[k][1][2:]), triples[k][2]]) for k in keys]
        )
        for key, granted in zip(keys, answers, strict=True):
            witness[key] = {"status": "granted" if granted else "revoked"}
    index: dict[str, Record | None] = {
        key: {"status": row["status"]} for key, row in indexed.items()
    }
    # A key the logs name but neither side holds cannot occur (a log makes the record); a key
    # only a log names and the index lacks is missing from it.
    return compare("role_grants", "*", "chain", index, witness)


@check("institution_assignments", contract="*", source="chain")
def _assignments(context: VerifyContext) -> CheckResult:
    """Every (contract, account) the index or a log names acts for the institution
    ``institutionOf`` says; no current row means the account acts for itself."""
    indexed = {str(row["id"]): row for row in context.current(institution_assignments)}
    pairs: dict[str, tuple[str, str]] = {
        assignment_key(r.contract, r.account): (r.contract, r.account)
        for r in context.events_of(InstitutionAssigned)
    }
    for key, row in indexed.items():
        pairs.setdefault(key, (str(row["contract"]), str(row["account"])))
    names = _names(context)
    by_contract: dict[str, list[str]] = defaultdict(list)
    for key in sorted(pairs):
        by_contract[pairs[key][0]].append(key)
    witness: dict[str, Record | None] = {}
    for address, keys in by_contract.items():
        if address not in names or not context.views(names[address]).has("institutionOf"):
            continue
        answers = context.views(names[address]).call(
            [("institutionOf", [pairs[key][1]]) for key in keys]
        )
        for key, institution in zip(keys, answers, strict=True):
            witness[key] = {"institution": hex32(institution)}
    index: dict[str, Record | None] = {
        key: {
            "institution": str(indexed[key]["institution"])
            if key in indexed
            else hex32(institution_id(account))
        }
        for key, (_, account) in pairs.items()
    }
    return compare("institution_assignments", "*", "chain", index, witness)


CHECKS: tuple[Check, ...] = (_role_grants, _assignments)
"""This module's checks, in the order the verification runs them."""
