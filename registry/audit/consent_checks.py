"""Checks of the ConsentRegistry's projections (enterprise bindings, consents, read-log anchors)
against its views, at the index's block, for every key the index holds or the chain's logs name."""

from __future__ import annotations

from registry.audit.checks import Check, CheckResult, Record, VerifyContext, check, compare, hex32
from registry.contracts.consents import ConsentStatus
from registry.db.schema import consents, enterprise_bindings, read_log_anchors
from registry.indexer.consents import (
    ConsentGranted,
    ConsentRevoked,
    EnterpriseBound,
    consent_key,
)

__all__ = ["CHECKS"]

CONSENTS = "ConsentRegistry"


def _raw(key: str) -> bytes:
    return bytes.fromhex(key[2:])


@check("enterprise_bindings", contract=CONSENTS, source="chain")
def _bindings(context: VerifyContext) -> CheckResult:
    indexed = {str(row["enterprise"]): row for row in context.current(enterprise_bindings)}
    keys = sorted(set(indexed) | {r.enterprise for r in context.events_of(EnterpriseBound)})
    answers = context.views(CONSENTS).call([("bindingOf", [_raw(key)]) for key in keys])
    witness: dict[str, Record | None] = {}
    for key, (account, key_version, epoch, bound) in zip(keys, answers, strict=True):
        # Epoch 0: never bound.
        witness[key] = (
            None
            if epoch == 0
            else {"account": account, "key_version": key_version, "epoch": epoch, "bound": bound}
        )
    index: dict[str, Record | None] = {
        key: {**row, "bound": bool(row["bound"])} for key, row in indexed.items()
    }
    return compare("enterprise_bindings", CONSENTS, "chain", index, witness)


@check("consents", contract=CONSENTS, source="chain")
def _consents(context: VerifyContext) -> CheckResult:
    indexed = {str(row["id"]): row for row in context.current(consents)}
    messages: list[ConsentGranted | ConsentRevoked] = [
        *context.events_of(ConsentGranted),
        *context.events_of(ConsentRevoked),
    ]
    named = {consent_key(r.enterprise, r.grantee_institution, r.scope) for r in messages}
    keys = sorted(set(indexed) | named)
    answers = context.views(CONSENTS).call(
        [("consentOf", [_raw(part) for part in key.split("/")]) for key in keys]
    )
    witness: dict[str, Record | None] = {}
    for key, (status, epoch, expiry, nonce, signer) in zip(keys, answers, strict=True):
        witness[key] = (
            None
            if status == ConsentStatus.NONE
            else {
                "status": ConsentStatus(status).name.lower(),
                "epoch": epoch,
                "expiry": expiry,
                "nonce": nonce,
                "signer": signer,
            }
        )
    return compare("consents", CONSENTS, "chain", dict(indexed), witness)


@check("read_log_anchors", contract=CONSENTS, source="chain")
def _anchors(context: VerifyContext) -> CheckResult:
    address = context.address(CONSENTS)
    index: dict[str, Record | None] = {}
    for row in context.appended(read_log_anchors):
        if row["contract"] == address:
            index[str(row["batch_index"])] = row
    views = context.views(CONSENTS)
    count = int(views.call([("readLogBatchCount", [])])[0])
    batches = views.call([("readLogBatch", [i]) for i in range(count)])
    witness: dict[str, Record | None] = {
        str(i): {"merkle_root": hex32(root), "first_entry": first, "last_entry": last}
        for i, (root, first, last) in enumerate(batches)
    }
    return compare("read_log_anchors", CONSENTS, "chain", index, witness)


CHECKS: tuple[Check, ...] = (_bindings, _consents, _anchors)
"""This module's checks, in the order the verification runs them."""
