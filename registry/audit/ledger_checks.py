"""Checks of the ReceivableLedger's projections against its views, at the index's block.

Each check states both sides in the index's spelling: the index's current versions as of the
block, and the contract's answer for every key the index holds or the chain's logs name (a key
only the logs name, and that the contract still knows, is a record missing from the index).
"""

from __future__ import annotations

from typing import Any

from registry.audit.checks import Check, CheckResult, Record, VerifyContext, check, compare, hex32
from registry.contracts.ledger import ReceivableStatus, Standing
from registry.contracts.values import currency_text
from registry.db.read import receivables_as_of
from registry.db.schema import advance_rates, declaration_attestations, declarations
from registry.indexer.ledger import (
    DeclarationAttested,
    DeclarationLinked,
    ReceivableRegistered,
)

__all__ = ["CHECKS"]

LEDGER = "ReceivableLedger"


def _address(value: str) -> str | None:
    return None if int(value, 16) == 0 else value


def _linked(value: bytes) -> str | None:
    return None if bytes(value) == bytes(32) else hex32(value)


@check("receivables", contract=LEDGER, source="chain")
def _receivables(context: VerifyContext) -> CheckResult:
    # As a read of the index gives them: the caps computed from the declarations and rates then.
    with context.engine.connect() as connection:
        indexed = {str(row["id"]): row for row in receivables_as_of(connection, context.block)}
    keys = sorted(set(indexed) | {r.id for r in context.events_of(ReceivableRegistered)})
    views = context.views(LEDGER)
    answers = views.call(
        [(view, [bytes.fromhex(key[2:])]) for key in keys for view in ("getReceivable", "headroom")]
    )
    witness: dict[str, Record | None] = {}
    for i, key in enumerate(keys):
        receivable, headroom = answers[2 * i], answers[2 * i + 1]
        (status, key_version, currency, maturity, registrant, financier, *amounts) = receivable
        exporter, face_value, declared_value, cap, outstanding = amounts
        if status == ReceivableStatus.NONE:
            witness[key] = None
            continue
        witness[key] = {
            "status": ReceivableStatus(status).name.lower(),
            "key_version": key_version,
            "currency": currency_text(currency),
            "maturity": maturity,
            "registrant": _address(registrant),
            "financier": _address(financier),
            "exporter": hex32(exporter),
            "face_value": face_value,
            "declared_value": declared_value,
            "cap": cap,
            "outstanding": outstanding,
            "headroom": headroom,
        }
    index: dict[str, Record | None] = {
        key: {**row, "headroom": max(0, int(row["cap"]) - int(row["outstanding"]))}
        for key, row in indexed.items()
    }
    return compare("receivables", LEDGER, "chain", index, witness)


@check("declarations", contract=LEDGER, source="chain")
def _declarations(context: VerifyContext) -> CheckResult:
    indexed = {str(row["fingerprint"]): row for row in context.current(declarations)}
    keys = sorted(set(indexed) | {r.declaration for r in context.events_of(DeclarationLinked)})
    views = context.views(LEDGER)
    answers = views.call(
        [
            (view, [bytes.fromhex(key[2:])])
            for key in keys
            for view in ("getDeclaration", "receivableOfDeclaration")
        ]
    )
    witness: dict[str, Record | None] = {}
    for i, key in enumerate(keys):
        (receivable, standing, declared, counted, _limit, outstanding), linked = (
            answers[2 * i],
            answers[2 * i + 1],
        )
        if _linked(receivable) is None and _linked(linked) is None:
            witness[key] = None
            continue
        witness[key] = {
            "receivable_id": _linked(receivable),
            "linked_receivable": _linked(linked),
            "standing": Standing(standing).name.lower(),
            "value": declared,
            "counted_value": counted,
            "outstanding": outstanding,
        }
    # Each declaration's place in its receivable's list, as declarationsOf lists it.
    receivable_ids = sorted({str(row["receivable_id"]) for row in indexed.values()})
    lists = views.call([("declarationsOf", [bytes.fromhex(r[2:])]) for r in receivable_ids])
    places = {
        hex32(fingerprint): place for listed in lists for place, fingerprint in enumerate(listed)
    }
    index: dict[str, Record | None] = {}
    for key, row in indexed.items():
        index[key] = {**row, "linked_receivable": row["receivable_id"]}
        if witness.get(key) is not None:
            witness[key] = {**(witness[key] or {}), "list_index": places.get(key)}
    return compare("declarations", LEDGER, "chain", index, witness)


@check("declaration_attestations", contract=LEDGER, source="chain")
def _attestations(context: VerifyContext) -> CheckResult:
    indexed = {str(row["fingerprint"]): row for row in context.current(declaration_attestations)}
    keys = sorted(set(indexed) | {r.declaration for r in context.events_of(DeclarationAttested)})
    answers = context.views(LEDGER).call(
        [("getAttestation", [bytes.fromhex(key[2:])]) for key in keys]
    )
    witness: dict[str, Record | None] = {}
    for key, (exporter, value, export_date) in zip(keys, answers, strict=True):
        witness[key] = (
            None
            if bytes(exporter) == bytes(32)
            else {"exporter": hex32(exporter), "attested_value": value, "export_date": export_date}
        )
    return compare("declaration_attestations", LEDGER, "chain", dict(indexed), witness)


@check("advance_rates", contract=LEDGER, source="chain")
def _advance_rates(context: VerifyContext) -> CheckResult:
    indexed: dict[str, Any] = {str(row["contract"]): row for row in context.current(advance_rates)}
    address = context.address(LEDGER)
    verified, unverified = context.views(LEDGER).call([("advanceRates", [])])[0]
    witness: dict[str, Record | None] = {
        address: {"verified_bps": verified, "unverified_bps": unverified}
    }
    return compare("advance_rates", LEDGER, "chain", indexed, witness)


CHECKS: tuple[Check, ...] = (_receivables, _declarations, _attestations, _advance_rates)
"""This module's checks, in the order the verification runs them."""
