"""cancel: only a never-financed receivable, by its registrant's bank; frees its declarations."""

from __future__ import annotations

from registry.contracts.ledger import DeclarationState, ReceivableStatus, Standing
from tests.conftest import Stack, fp, hx
from tests.helpers import register, violated


def test_cancel_frees_declarations_and_allows_reregistration(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_b.signer, rid)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.REGISTERED)}

    stack.ledger.cancel(stack.bank_a.signer, rid)
    cancelled = stack.ledger.receivable(rid)
    assert (cancelled.status, cancelled.cap, cancelled.headroom) == (
        ReceivableStatus.CANCELLED,
        0,
        0,
    )
    assert stack.ledger.receivable_of_declaration(fp("D1")) is None
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        None, Standing.UNVERIFIED, 0, 0, 0, 0
    )
    assert violated(
        stack, "receivable-not-active", lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.CANCELLED)}
    violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_a.signer, rid)
    )

    register(stack, stack.bank_b.signer, "INV-1", ("D1", 100_000))
    assert stack.ledger.receivable(rid).registrant == stack.bank_b.signer.address
    assert stack.ledger.declaration(fp("D1")).receivable == rid


def test_financed_or_settled_receivable_cannot_be_cancelled(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 1)
    assert violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_a.signer, rid)
    ) == {"id": hx(rid), "status": int(ReceivableStatus.FINANCED)}
    stack.ledger.repay(stack.bank_a.signer, rid, 1)
    violated(
        stack, "receivable-not-cancellable", lambda: stack.ledger.cancel(stack.bank_a.signer, rid)
    )
