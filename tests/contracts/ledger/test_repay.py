"""repay: by the holding bank, at most the outstanding; repaid to zero, settled."""

from __future__ import annotations

from registry import errors
from registry.contracts.ledger import ReceivableStatus
from tests.conftest import Stack, hx
from tests.helpers import refused, register, violated


def test_repayment_settles_and_the_receivable_stays_its_registrants(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert violated(
        stack, "receivable-not-active", lambda: stack.ledger.repay(stack.bank_a.signer, rid, 1)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.REGISTERED)}
    stack.ledger.finance(stack.bank_a.signer, rid, 40_000)
    error = refused(
        stack,
        errors.ReceivableHeldByOtherBank,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.repay(stack.bank_b.signer, rid, 1),
    )
    assert error.details == {
        "id": hx(rid),
        "institution": hx(stack.ledger.institution_of(stack.bank_a.signer.address)),
    }
    error = refused(
        stack,
        errors.RepaymentExceedsOutstanding,
        "repayment-exceeds-outstanding",
        lambda: stack.ledger.repay(stack.bank_a.signer, rid, 40_001),
    )
    assert error.details == {"id": hx(rid), "amount": 40_001, "outstanding": 40_000}

    stack.ledger.repay(stack.bank_a.signer, rid, 15_000)
    assert stack.ledger.receivable(rid).outstanding == 25_000
    stack.ledger.repay(stack.bank_a.signer, rid, 25_000)
    settled = stack.ledger.receivable(rid)
    assert (settled.status, settled.outstanding, settled.financier) == (
        ReceivableStatus.SETTLED,
        0,
        None,
    )
    assert violated(
        stack, "receivable-not-active", lambda: stack.ledger.repay(stack.bank_a.signer, rid, 1)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.SETTLED)}

    # Settled: still the registering bank's. Another bank is refused; the holder may draw again.
    violated(
        stack,
        "receivable-held-by-other-bank",
        lambda: stack.ledger.finance(stack.bank_b.signer, rid, 5_000),
    )
    stack.ledger.finance(stack.bank_a.signer, rid, 5_000)
    assert stack.ledger.receivable(rid).financier == stack.bank_a.signer.address
    assert stack.ledger.institution_of_receivable(rid) == stack.ledger.institution_of(
        stack.bank_a.signer.address
    )
