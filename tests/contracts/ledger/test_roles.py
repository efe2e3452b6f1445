"""The ledger's roles: each role is refused what it may not do, an outsider everything."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from registry import errors
from registry.chain.client import Signer
from registry.contracts.roles import LENDER_ROLE, VERIFIER_ROLE
from tests.conftest import Stack, fp, hx
from tests.contracts.ledger.conftest import EXPORT_DATE
from tests.helpers import decls, funded, refused, register, terms
from tests.models.ledger import EXPORTER

LENDER_CALLS: dict[str, Callable[[Stack, Signer], object]] = {
    "registerReceivable": lambda s, who: s.ledger.register(who, terms("INV-R"), decls(("DR", 1))),
    "tryRegisterReceivable": lambda s, who: s.ledger.try_register(
        who, terms("INV-R"), decls(("DR", 1))
    ),
    "finance": lambda s, who: s.ledger.finance(who, fp("INV-1"), 1),
    "tryFinance": lambda s, who: s.ledger.try_finance(who, fp("INV-1"), 1),
    "repay": lambda s, who: s.ledger.repay(who, fp("INV-1"), 1),
    "cancel": lambda s, who: s.ledger.cancel(who, fp("INV-1")),
}


OTHER_CALLS: dict[str, tuple[bytes, Callable[[Stack, Signer], object]]] = {
    "attestDeclaration": (
        VERIFIER_ROLE,
        lambda s, who: s.ledger.attest_declaration(who, fp("D1"), EXPORTER, 1, EXPORT_DATE),
    ),
    "setAdvanceRates": (bytes(32), lambda s, who: s.ledger.set_advance_rates(who, 1, 1)),
    "assignInstitution": (
        bytes(32),
        lambda s, who: s.ledger.assign_institution(who, who.address, b"\x01" * 32),
    ),
}


CALLERS: dict[str, Callable[[Stack], Signer]] = {
    "bank": lambda s: s.bank_a.signer,
    "customs": lambda s: s.verifier.signer,
    "admin": lambda s: s.admin.signer,
    "registrar": lambda s: s.registrar.signer,
    "court": lambda s: s.enforcer.signer,
    "operator": lambda s: s.operator.signer,
}


HOLDER = {"attestDeclaration": "customs", "setAdvanceRates": "admin", "assignInstitution": "admin"}


ROLE_CASES = [
    *(
        (name, LENDER_ROLE, call, caller)
        for name, call in LENDER_CALLS.items()
        for caller in CALLERS
        if caller != "bank"
    ),
    *(
        (name, role, call, caller)
        for name, (role, call) in OTHER_CALLS.items()
        for caller in CALLERS
        if caller != HOLDER[name]
    ),
]


@pytest.fixture
def with_receivable(stack: Stack) -> Stack:
    """A financed receivable INV-1, so that every call has something to act on."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    stack.ledger.finance(stack.bank_a.signer, fp("INV-1"), 10)
    return stack


@pytest.mark.parametrize(
    ("function", "role", "call", "caller"),
    [pytest.param(*case, id=f"{case[0]}-by-{case[3]}") for case in ROLE_CASES],
)
def test_each_role_is_refused_what_it_may_not_do(
    with_receivable: Stack,
    function: str,
    role: bytes,
    call: Callable[[Stack, Signer], object],
    caller: str,
) -> None:
    stack = with_receivable
    who = CALLERS[caller](stack)
    error = refused(stack, errors.MissingRole, "missing-role", lambda: call(stack, who))
    assert error.details == {"account": who.address, "neededRole": hx(role)}


def test_outsider_is_refused_everything(with_receivable: Stack) -> None:
    stack = with_receivable
    outsider = funded(stack)
    calls = [
        *((LENDER_ROLE, call) for call in LENDER_CALLS.values()),
        *OTHER_CALLS.values(),
    ]
    for role, call in calls:
        error = refused(
            stack,
            errors.MissingRole,
            "missing-role",
            lambda call=call: call(stack, outsider),  # type: ignore[misc]
        )
        assert error.details == {"account": outsider.address, "neededRole": hx(role)}
