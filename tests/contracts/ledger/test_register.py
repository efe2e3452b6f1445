"""registerReceivable: terms, declarations and cap recorded; one invoice per registration,
one invoice per declaration; malformed registrations revert on both entry points.
"""

from __future__ import annotations

import pytest

from registry import errors
from registry.contracts.ledger import (
    MAX_AMOUNT,
    MAX_DECLARATIONS,
    DeclarationState,
    DeclarationTerm,
    ReceivableState,
    ReceivableStatus,
    ReceivableTerms,
    Standing,
)
from tests.conftest import Stack, fp, hx
from tests.contracts.ledger.conftest import limit
from tests.helpers import MATURITY, decls, refused, register, terms, violated
from tests.models.ledger import EXPORTER


def test_register_records_terms_declarations_and_cap(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 60_000), ("D2", 50_000))

    assert stack.ledger.receivable(rid) == ReceivableState(
        status=ReceivableStatus.REGISTERED,
        key_version=1,
        currency="USD",
        maturity=MATURITY,
        registrant=stack.bank_a.signer.address,
        financier=None,
        exporter=EXPORTER,
        face_value=100_000,
        declared_value=110_000,
        # min(face x rate, sum of the declarations' limits) = min(80,000, 88,000)
        cap=limit(100_000),
        outstanding=0,
    )
    assert stack.ledger.declarations_of(rid) == [fp("D1"), fp("D2")]
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.UNVERIFIED, 60_000, 60_000, limit(60_000), 0
    )
    assert stack.ledger.receivable_of_declaration(fp("D2")) == rid
    assert stack.ledger.headroom(rid) == limit(100_000)
    assert stack.ledger.institution_of_receivable(rid) == stack.ledger.institution_of(
        stack.bank_a.signer.address
    )
    assert not stack.ledger.is_overdue(rid)


def test_cap_is_the_declarations_limit_when_lower(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 30_000))
    assert stack.ledger.receivable(rid).cap == limit(30_000)
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, limit(30_000) + 1),
    )
    assert error.details["headroom"] == limit(30_000)


def test_declaration_backs_at_most_one_invoice(any_stack: Stack) -> None:
    stack = any_stack
    first = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))

    error = refused(
        stack,
        errors.DeclarationLinkedToOtherInvoice,
        "declaration-linked-to-other-invoice",
        lambda: register(stack, stack.bank_b.signer, "INV-2", ("D9", 10), ("D1", 90_000)),
    )
    assert error.details == {"declaration": hx(fp("D1")), "linkedReceivable": hx(first)}
    assert stack.ledger.receivable(fp("INV-2")).status is ReceivableStatus.NONE
    # The declaration listed before the refused one was not linked either: the whole call reverted.
    assert stack.ledger.receivable_of_declaration(fp("D9")) is None


def test_invoice_registered_once(stack: Stack) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    error = refused(
        stack,
        errors.ReceivableAlreadyRegistered,
        "receivable-already-registered",
        lambda: register(stack, stack.bank_b.signer, "INV-1", ("D2", 90_000)),
    )
    assert error.details == {"id": hx(fp("INV-1")), "registrant": stack.bank_a.signer.address}


MALFORMED = [
    pytest.param(terms("INV-1"), [], "declaration-count-out-of-range", id="no declarations"),
    pytest.param(
        terms("INV-1"),
        decls(*((f"D{i}", 1) for i in range(MAX_DECLARATIONS + 1))),
        "declaration-count-out-of-range",
        id="too many declarations",
    ),
    pytest.param(terms("INV-1"), decls(("D1", 0)), "zero-value", id="zero declared value"),
    pytest.param(terms("INV-1", 0), decls(("D1", 5)), "zero-value", id="zero face value"),
    pytest.param(
        terms("INV-1"), decls(("D1", 5), ("D1", 5)), "declaration-duplicated", id="duplicate"
    ),
    pytest.param(
        terms("INV-1"),
        [DeclarationTerm(bytes(32), 5)],
        "zero-fingerprint",
        id="zero declaration fingerprint",
    ),
    pytest.param(
        ReceivableTerms(bytes(32), EXPORTER, 1, 100, "USD", MATURITY),
        decls(("D1", 5)),
        "zero-fingerprint",
        id="zero invoice fingerprint",
    ),
    pytest.param(
        terms("INV-1", exporter=bytes(32)), decls(("D1", 5)), "zero-fingerprint", id="no exporter"
    ),
    pytest.param(
        terms("INV-1", MAX_AMOUNT + 1),
        decls(("D1", 5)),
        "amount-out-of-range",
        id="face value above 2**96 - 1",
    ),
    pytest.param(
        terms("INV-1"),
        decls(("D1", MAX_AMOUNT), ("D2", 1)),
        "amount-out-of-range",
        id="declared total above 2**96 - 1",
    ),
]


@pytest.mark.parametrize("recording", [False, True], ids=["register", "tryRegister"])
@pytest.mark.parametrize(("bad_terms", "declarations", "rule"), MALFORMED)
def test_malformed_registrations_revert_on_both_entry_points(
    stack: Stack,
    bad_terms: ReceivableTerms,
    declarations: list[DeclarationTerm],
    rule: str,
    recording: bool,
) -> None:
    """Malformed input is no financing attempt: the recording entry point reverts it too."""
    ledger = stack.ledger
    action = ledger.try_register if recording else ledger.register
    violated(stack, rule, lambda: action(stack.bank_a.signer, bad_terms, declarations))
