"""finance: drawdowns within the cap, by the registering bank only, filling the declarations
in order; unknown receivables and zero amounts.
"""

from __future__ import annotations

from registry import errors
from registry.contracts.ledger import ReceivableStatus
from tests.conftest import Stack, fp, hx
from tests.contracts.ledger.conftest import limit
from tests.helpers import refused, register, violated


def test_financing_within_cap_and_tranches_by_same_bank(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 50_000)
    stack.ledger.finance(stack.bank_a.signer, rid, 30_000)  # a second tranche, up to the cap

    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1),
    )
    assert error.details == {"id": hx(rid), "amount": 1, "headroom": 0}
    financed = stack.ledger.receivable(rid)
    assert (financed.status, financed.outstanding, financed.financier) == (
        ReceivableStatus.FINANCED,
        80_000,
        stack.bank_a.signer.address,
    )
    assert stack.ledger.declaration(fp("D1")).outstanding == 80_000


def test_only_the_registering_bank_draws(any_stack: Stack) -> None:
    """Another bank is refused before anything is financed (it cannot grab a fresh registration)
    and while money is out; the holder is the registrant's institution throughout."""
    stack = any_stack
    bank_a = stack.ledger.institution_of(stack.bank_a.signer.address)
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    held = {"id": hx(rid), "institution": hx(bank_a)}

    error = refused(
        stack,
        errors.ReceivableHeldByOtherBank,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.finance(stack.bank_b.signer, rid, 1),
    )
    assert error.details == held
    stack.ledger.finance(stack.bank_a.signer, rid, 10_000)
    error = refused(
        stack,
        errors.ReceivableHeldByOtherBank,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.finance(stack.bank_b.signer, rid, 1_000),
    )
    assert error.details == held
    assert stack.ledger.receivable(rid).outstanding == 10_000
    assert stack.ledger.institution_of_receivable(rid) == bank_a


def test_drawdowns_fill_declarations_in_order_and_repayments_release_in_reverse(
    any_stack: Stack,
) -> None:
    stack = any_stack
    ledger, bank = stack.ledger, stack.bank_a.signer
    rid = register(stack, bank, "INV-1", ("D1", 60_000), ("D2", 50_000), face_value=200_000)
    assert ledger.receivable(rid).cap == limit(60_000) + limit(50_000)

    tx = ledger.finance(bank, rid, 30_000)
    assert ledger.events(tx, "DeclarationFinanced") == [
        {"id": rid, "index": 0, "amount": 30_000, "outstanding": 30_000}
    ]
    tx = ledger.finance(bank, rid, 40_000)
    assert ledger.events(tx, "DeclarationFinanced") == [
        {"id": rid, "index": 0, "amount": 18_000, "outstanding": limit(60_000)},
        {"id": rid, "index": 1, "amount": 22_000, "outstanding": 22_000},
    ]
    assert [ledger.declaration(fp(d)).outstanding for d in ("D1", "D2")] == [48_000, 22_000]

    tx = ledger.repay(bank, rid, 25_000)
    assert ledger.events(tx, "DeclarationRepaid") == [
        {"id": rid, "index": 1, "amount": 22_000, "outstanding": 0},
        {"id": rid, "index": 0, "amount": 3_000, "outstanding": 45_000},
    ]
    assert ledger.events(tx, "ReceivableRepaid") == [
        {
            "id": rid,
            "bank": bank.address,
            "amount": 25_000,
            "outstanding": 45_000,
            "status": int(ReceivableStatus.FINANCED),
        }
    ]
    balances = [ledger.declaration(fp(d)).outstanding for d in ("D1", "D2")]
    assert sum(balances) == ledger.receivable(rid).outstanding == 45_000

    # Each declaration stays within its limit: the whole cap can be drawn, never more.
    ledger.finance(bank, rid, ledger.headroom(rid))
    for number in ("D1", "D2"):
        declaration = ledger.declaration(fp(number))
        assert declaration.outstanding == declaration.limit <= declaration.counted_value


def test_unknown_receivable(stack: Stack) -> None:
    ledger, bank = stack.ledger, stack.bank_a.signer
    for action in (
        lambda: ledger.finance(bank, fp("X"), 1),
        lambda: ledger.try_finance(bank, fp("X"), 1),
        lambda: ledger.repay(bank, fp("X"), 1),
        lambda: ledger.cancel(bank, fp("X")),
    ):
        error = refused(stack, errors.ReceivableNotFound, "receivable-not-found", action)
        assert error.details == {"id": hx(fp("X"))}
    assert ledger.receivable(fp("X")).status is ReceivableStatus.NONE
    assert ledger.headroom(fp("X")) == 0
    assert ledger.declarations_of(fp("X")) == []


def test_zero_amounts_revert(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    ledger, bank = stack.ledger, stack.bank_a.signer
    violated(stack, "zero-amount", lambda: ledger.finance(bank, rid, 0))
    violated(stack, "zero-amount", lambda: ledger.try_finance(bank, rid, 0))
    ledger.finance(bank, rid, 10)
    violated(stack, "zero-amount", lambda: ledger.repay(bank, rid, 0))
