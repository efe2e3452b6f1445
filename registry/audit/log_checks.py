"""Checks of the rows that record events (the events table, drawdowns and repayments, refused
attempts) against the chain's logs themselves: no view keeps that history, the logs do.

Records are keyed by their place on the chain, ``<block>:<log index>``, so a row the index lacks,
a row it has twice or invented, and a row whose content differs are each reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from registry.audit.checks import Check, CheckResult, Record, VerifyContext, check, compare
from registry.db.schema import events, financings, refused_attempts
from registry.indexer.decode import EventRecord
from registry.indexer.ledger import (
    FinancingRefused,
    ReceivableFinanced,
    ReceivableRepaid,
    RegistrationRefused,
)

__all__ = ["CHECKS"]

LEDGER = "ReceivableLedger"
_ZERO_HASH = "0x" + "00" * 32
_ZERO_ADDRESS = "0x" + "00" * 20


def _place(block_number: int, log_index: int) -> str:
    return f"{block_number}:{log_index}"


def _by_place(rows: Sequence[Mapping[str, Any]], name: str) -> dict[str, Record | None]:
    """Rows by their place; a place held twice is a difference of its own."""
    keyed: dict[str, Record | None] = {}
    for row in rows:
        place = _place(int(row["block_number"]), int(row["log_index"]))
        keyed[place if place not in keyed else f"{place} (again, in {name})"] = row
    return keyed


def _record(record: EventRecord) -> str:
    return _place(record.block_number, record.log_index)


@check("events", contract="*", source="logs")
def _events(context: VerifyContext) -> CheckResult:
    witness: dict[str, Record | None] = {
        _record(r): {
            "block_hash": r.block_hash,
            "tx_hash": r.tx_hash,
            "tx_index": r.tx_index,
            "contract": r.contract,
            "event": r.event,
            "args": r.args(),
        }
        for r in context.logs()
    }
    return compare("events", "*", "logs", _by_place(context.appended(events), "events"), witness)


@check("financings", contract=LEDGER, source="logs")
def _financings(context: VerifyContext) -> CheckResult:
    moves: list[ReceivableFinanced | ReceivableRepaid] = [
        *context.events_of(ReceivableFinanced),
        *context.events_of(ReceivableRepaid),
    ]
    witness: dict[str, Record | None] = {
        _record(r): {
            "receivable_id": r.id,
            "bank": r.bank,
            "kind": "drawdown" if isinstance(r, ReceivableFinanced) else "repayment",
            "amount": r.amount,
            "outstanding_after": r.outstanding,
            "tx_hash": r.tx_hash,
        }
        for r in moves
    }
    indexed = _by_place(context.appended(financings), "financings")
    return compare("financings", LEDGER, "logs", indexed, witness)


@check("refused_attempts", contract=LEDGER, source="logs")
def _refused_attempts(context: VerifyContext) -> CheckResult:
    """Who tried, which document, why: what an auditor must see of every refusal."""
    witness: dict[str, Record | None] = {}
    refusals: list[RegistrationRefused | FinancingRefused] = [
        *context.events_of(RegistrationRefused),
        *context.events_of(FinancingRefused),
    ]
    for r in refusals:
        common = {
            "contract": r.contract,
            "tx_hash": r.tx_hash,
            "reason": r.reason.rule,
            "receivable_id": r.id,
            "institution": r.institution,
            "account": r.account,
        }
        if isinstance(r, RegistrationRefused):
            witness[_record(r)] = {
                **common,
                "action": "register",
                "document": r.document,
                "amount": r.face_value,
                "conflict": None if r.conflict == _ZERO_HASH else r.conflict,
            }
        else:
            witness[_record(r)] = {
                **common,
                "action": "finance",
                "document": r.id,
                "amount": r.amount,
                "headroom": r.headroom,
                "financier": None if r.financier == _ZERO_ADDRESS else r.financier,
            }
    indexed = _by_place(context.appended(refused_attempts), "refused_attempts")
    return compare("refused_attempts", LEDGER, "logs", indexed, witness)


CHECKS: tuple[Check, ...] = (_events, _financings, _refused_attempts)
"""This module's checks, in the order the verification runs them."""
