"""ReceivableLedger's rules, exercised through the typed binding against real nodes.

Each refusal is checked for its decoded domain error and for leaving the chain unchanged (no block
mined, state as before): the binding estimates first, so a refused operation sends nothing.
"""

from __future__ import annotations

import pytest

from registry import errors
from registry.chain.client import Signer
from registry.chain.ledger import (
    DeclarationTerm,
    ReceivableState,
    ReceivableStatus,
    ReceivableTerms,
)
from tests.conftest import ADVANCE_RATE_BPS, Stack

MATURITY = 2_000_000_000
EXPORTER = b"\xee" * 32


def fp(label: str) -> bytes:
    """A stand-in fingerprint: the ledger only sees 32-byte values."""
    return label.encode().ljust(32, b"\0")


def terms(invoice: str, face_value: int = 100_000) -> ReceivableTerms:
    return ReceivableTerms(fp(invoice), EXPORTER, 1, face_value, "USD", MATURITY)


def register(stack: Stack, signer: Signer, invoice: str, *declarations: tuple[str, int]) -> bytes:
    decls = [DeclarationTerm(fp(number), value) for number, value in declarations]
    stack.ledger.register(signer, terms(invoice), decls)
    return fp(invoice)


def refused(
    stack: Stack, error: type[errors.RegistryError], action: object
) -> errors.RegistryError:
    """Runs ``action``, expects ``error``, and checks that no block was mined."""
    head = stack.chain.block_number()
    with pytest.raises(error) as raised:
        action()  # type: ignore[operator]
    assert stack.chain.block_number() == head
    return raised.value


def test_register_records_terms_and_cap(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 60_000), ("D2", 50_000))

    state = stack.ledger.receivable(rid)
    assert state == ReceivableState(
        status=ReceivableStatus.REGISTERED,
        key_version=1,
        currency="USD",
        maturity=MATURITY,
        registrant=stack.bank_a.signer.address,
        financier=None,
        exporter=EXPORTER,
        face_value=100_000,
        declared_value=110_000,
        cap=100_000 * ADVANCE_RATE_BPS // 10_000,
        outstanding=0,
    )
    assert stack.ledger.receivable_of_declaration(fp("D1")) == rid
    assert stack.ledger.receivable_of_declaration(fp("D2")) == rid


def test_cap_is_the_declared_value_when_lower(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 30_000))
    assert stack.ledger.receivable(rid).cap == 30_000
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 30_001),
    )
    assert error.details["headroom"] == 30_000


def test_declaration_backs_at_most_one_invoice(any_stack: Stack) -> None:
    stack = any_stack
    first = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))

    error = refused(
        stack,
        errors.DeclarationLinkedToOtherInvoice,
        lambda: register(stack, stack.bank_b.signer, "INV-2", ("D9", 10), ("D1", 90_000)),
    )
    assert error.details == {
        "declaration": "0x" + fp("D1").hex(),
        "linkedReceivable": "0x" + first.hex(),
    }
    assert stack.ledger.receivable(fp("INV-2")).status is ReceivableStatus.NONE
    # The declaration listed before the refused one was not linked either: the whole call reverted.
    assert stack.ledger.receivable_of_declaration(fp("D9")) is None


def test_invoice_registered_once(stack: Stack) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    error = refused(
        stack,
        errors.ReceivableAlreadyRegistered,
        lambda: register(stack, stack.bank_b.signer, "INV-1", ("D2", 90_000)),
    )
    assert error.details["registrant"] == stack.bank_a.signer.address


@pytest.mark.parametrize(
    ("declarations", "rule"),
    [
        ((), "declaration-count-out-of-range"),
        ((("D1", 0),), "zero-value"),
        ((("D1", 5), ("D1", 5)), "declaration-duplicated"),
    ],
)
def test_malformed_registrations_refused(
    stack: Stack, declarations: tuple[tuple[str, int], ...], rule: str
) -> None:
    error = refused(
        stack,
        errors.RuleViolation,
        lambda: register(stack, stack.bank_a.signer, "INV-1", *declarations),
    )
    assert error.rule == rule


def test_financing_within_cap_and_tranches_by_same_bank(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 50_000)
    stack.ledger.finance(stack.bank_a.signer, rid, 30_000)  # a second tranche, up to the cap

    error = refused(
        stack, errors.FinancingExceedsCap, lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1)
    )
    assert error.details == {"id": "0x" + rid.hex(), "amount": 1, "headroom": 0}
    state = stack.ledger.receivable(rid)
    assert (state.status, state.outstanding, state.financier) == (
        ReceivableStatus.FINANCED,
        80_000,
        stack.bank_a.signer.address,
    )


def test_second_bank_refused_while_first_has_money_out(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 10_000)

    error = refused(
        stack,
        errors.ReceivableFinancedByOtherBank,
        lambda: stack.ledger.finance(stack.bank_b.signer, rid, 1_000),
    )
    assert error.details["financier"] == stack.bank_a.signer.address
    assert stack.ledger.receivable(rid).outstanding == 10_000


def test_repayment_settles_and_ends_exclusivity(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 40_000)
    refused(
        stack,
        errors.ReceivableNotFinancedByCaller,
        lambda: stack.ledger.repay(stack.bank_b.signer, rid, 1),
    )
    refused(
        stack,
        errors.RepaymentExceedsOutstanding,
        lambda: stack.ledger.repay(stack.bank_a.signer, rid, 40_001),
    )

    stack.ledger.repay(stack.bank_a.signer, rid, 15_000)
    assert stack.ledger.receivable(rid).outstanding == 25_000
    stack.ledger.repay(stack.bank_a.signer, rid, 25_000)
    settled = stack.ledger.receivable(rid)
    assert (settled.status, settled.outstanding, settled.financier) == (
        ReceivableStatus.SETTLED,
        0,
        None,
    )

    # Settled: the exclusivity has ended, so another bank may now finance it.
    stack.ledger.finance(stack.bank_b.signer, rid, 5_000)
    assert stack.ledger.receivable(rid).financier == stack.bank_b.signer.address


def test_cancel_frees_declarations_and_allows_reregistration(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    refused(stack, errors.RuleViolation, lambda: stack.ledger.cancel(stack.bank_b.signer, rid))

    stack.ledger.cancel(stack.bank_a.signer, rid)
    assert stack.ledger.receivable(rid).status is ReceivableStatus.CANCELLED
    assert stack.ledger.receivable_of_declaration(fp("D1")) is None
    refused(stack, errors.RuleViolation, lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1))

    register(stack, stack.bank_b.signer, "INV-1", ("D1", 100_000))
    assert stack.ledger.receivable(rid).registrant == stack.bank_b.signer.address


def test_financed_receivable_cannot_be_cancelled(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 1)
    error = refused(
        stack, errors.RuleViolation, lambda: stack.ledger.cancel(stack.bank_a.signer, rid)
    )
    assert error.rule == "receivable-not-cancellable"


def test_unknown_receivable(stack: Stack) -> None:
    refused(
        stack,
        errors.ReceivableNotFound,
        lambda: stack.ledger.finance(stack.bank_a.signer, fp("X"), 1),
    )


def test_roles_are_enforced_on_chain(any_stack: Stack) -> None:
    stack = any_stack
    outsider = Signer.generate()
    stack.chain.send_value(stack.chain.w3.eth.accounts[0], outsider.address, 10**18)

    error = refused(
        stack, errors.MissingRole, lambda: register(stack, outsider, "INV-1", ("D1", 100))
    )
    assert error.details["account"] == outsider.address
    refused(
        stack, errors.MissingRole, lambda: stack.ledger.set_advance_rate(stack.bank_a.signer, 9000)
    )


def test_admin_sets_advance_rate_for_new_registrations(stack: Stack) -> None:
    old = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.set_advance_rate(stack.admin.signer, 5000)
    new = register(stack, stack.bank_a.signer, "INV-2", ("D2", 100_000))
    assert stack.ledger.receivable(old).cap == 80_000
    assert stack.ledger.receivable(new).cap == 50_000
    error = refused(
        stack,
        errors.RuleViolation,
        lambda: stack.ledger.set_advance_rate(stack.admin.signer, 10_001),
    )
    assert error.rule == "advance-rate-out-of-range"
