"""tryRegisterReceivable and tryFinance: a refused attempt is recorded in one transaction and
changes nothing else; an accepted one is the plain operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from registry import errors
from registry.contracts.ledger import Attempt, RefusalReason
from tests.conftest import Stack, fp
from tests.contracts.ledger.conftest import EXPORT_DATE, OTHER_EXPORTER, limit, only_log
from tests.helpers import decls, refused, register, terms


def state(stack: Stack, ids: list[bytes], declarations: list[bytes]) -> tuple[Any, ...]:
    """Every view of the given receivables and declarations, to compare before and after."""
    ledger = stack.ledger
    return (
        [(ledger.receivable(i), ledger.declarations_of(i), ledger.headroom(i)) for i in ids],
        [(ledger.declaration(d), ledger.attestation(d)) for d in declarations],
        [ledger.institution_of_receivable(i) for i in ids],
        ledger.advance_rates(),
    )


@dataclass
class Scene:
    """Receivables and declarations set up for a refusal, and what to look at around it."""

    ids: list[bytes]
    declarations: list[bytes]
    receivable: bytes
    attempt: Callable[[], Attempt]
    reverting: Callable[[], object]
    reason: RefusalReason
    document: bytes
    actor: str = "Bank B"
    conflict: bytes | None = None
    headroom: int | None = None
    financier: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _registration_scene(stack: Stack, reason: RefusalReason) -> Scene:
    a, b, ledger = stack.bank_a.signer, stack.bank_b.signer, stack.ledger
    first = register(stack, a, "INV-1", ("D1", 90_000))
    if reason is RefusalReason.RECEIVABLE_ALREADY_REGISTERED:
        presented = (terms("INV-1"), decls(("D2", 90_000)))
        document, conflict = first, ledger.institution_of(a.address)
    elif reason is RefusalReason.DECLARATION_LINKED_TO_OTHER_INVOICE:
        presented = (terms("INV-2"), decls(("D2", 5), ("D1", 90_000)))
        document, conflict = fp("D1"), first
    else:
        ledger.attest_declaration(stack.verifier.signer, fp("D2"), OTHER_EXPORTER, 5, EXPORT_DATE)
        presented = (terms("INV-2"), decls(("D2", 5)))
        document, conflict = fp("D2"), OTHER_EXPORTER
    return Scene(
        ids=[first, fp("INV-2")],
        declarations=[fp("D1"), fp("D2")],
        receivable=presented[0].id,
        attempt=lambda: ledger.try_register(b, *presented),
        reverting=lambda: ledger.register(b, *presented),
        reason=reason,
        document=document,
        conflict=conflict,
    )


def _financing_scene(stack: Stack, reason: RefusalReason) -> Scene:
    a, ledger = stack.bank_a.signer, stack.ledger
    rid = register(stack, a, "INV-1", ("D1", 100_000))
    amount, room, financier, actor = 1_000, 0, None, "Bank B"
    if reason is RefusalReason.RECEIVABLE_NOT_ACTIVE:
        ledger.cancel(a, rid)
    elif reason is RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK:
        ledger.finance(a, rid, 10_000)
        financier = a.address
    else:
        ledger.finance(a, rid, 10_000)
        ledger.repay(a, rid, 10_000)  # settled: its bank may finance again, within the cap
        amount, room, actor = limit(100_000) + 1, limit(100_000), "Bank A"
    signer = stack.secrets.institution(actor).signer
    return Scene(
        ids=[rid],
        declarations=[fp("D1")],
        receivable=rid,
        attempt=lambda: ledger.try_finance(signer, rid, amount),
        reverting=lambda: ledger.finance(signer, rid, amount),
        reason=reason,
        document=rid,
        actor=actor,
        headroom=room,
        financier=financier,
        details={"amount": amount},
    )


@pytest.mark.parametrize(
    "reason",
    [
        RefusalReason.RECEIVABLE_ALREADY_REGISTERED,
        RefusalReason.DECLARATION_LINKED_TO_OTHER_INVOICE,
        RefusalReason.DECLARATION_EXPORTER_MISMATCH,
        RefusalReason.RECEIVABLE_NOT_ACTIVE,
        RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK,
        RefusalReason.FINANCING_EXCEEDS_CAP,
    ],
)
def test_refused_attempt_is_recorded_and_changes_nothing_else(
    stack: Stack, reason: RefusalReason
) -> None:
    registration = reason.value <= RefusalReason.DECLARATION_EXPORTER_MISMATCH
    scene = (_registration_scene if registration else _financing_scene)(stack, reason)
    # The reverting entry point refuses the same attempt with the same error, sending nothing.
    reverted = refused(stack, errors.RuleViolation, scene.reason.rule, scene.reverting)
    before = state(stack, scene.ids, scene.declarations)
    head = stack.chain.block_number()

    attempt = scene.attempt()

    assert not attempt.accepted
    assert attempt.tx.block_number == head + 1
    expected_event = "RegistrationRefused" if registration else "FinancingRefused"
    assert only_log(stack, attempt) == expected_event
    assert state(stack, scene.ids, scene.declarations) == before
    refusal = attempt.refusal
    assert refusal is not None
    actor = stack.secrets.institution(scene.actor).signer.address
    assert (refusal.reason, refusal.document, refusal.account, refusal.institution) == (
        reason,
        scene.document,
        actor,
        stack.ledger.institution_of(actor),
    )
    assert (refusal.conflict, refusal.headroom, refusal.financier) == (
        scene.conflict,
        scene.headroom,
        scene.financier,
    )
    assert refusal.receivable_id == scene.receivable
    for name, value in scene.details.items():
        assert getattr(refusal, name) == value
    # The recorded refusal explains itself exactly as the revert does.
    error = attempt.error
    assert error is not None
    assert (type(error), error.rule, error.details) == (
        type(reverted),
        reverted.rule,
        reverted.details,
    )
    assert error.rule == reason.rule


def test_accepted_attempts_are_the_plain_operations(stack: Stack) -> None:
    ledger, bank = stack.ledger, stack.bank_a.signer
    registered = ledger.try_register(bank, terms("INV-1"), decls(("D1", 100_000)))
    assert (registered.accepted, registered.refusal, registered.error) == (True, None, None)
    assert len(ledger.events(registered.tx, "ReceivableRegistered")) == 1
    financed = ledger.try_finance(bank, fp("INV-1"), 10_000)
    assert financed.accepted
    assert ledger.events(financed.tx, "ReceivableFinanced") == [
        {"id": fp("INV-1"), "bank": bank.address, "amount": 10_000, "outstanding": 10_000}
    ]
    assert ledger.receivable(fp("INV-1")).outstanding == 10_000
