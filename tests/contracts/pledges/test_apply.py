"""applyForPledge: a pending pledge for the lender's institution; the rules wait for the
decision.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from registry.contracts.pledges import PledgeState, PledgeStatus, pledge_id
from tests.conftest import fp, hx
from tests.contracts.pledges.conftest import CASE, VALUE, Registry
from tests.helpers import MATURITY


def test_apply_records_a_pending_pledge_for_the_institution(any_reg: Registry) -> None:
    reg = any_reg
    prop = reg.register("P1")
    registered, title = reg.registry.get_property(prop), reg.registry.title(prop)
    applied = reg.registry.apply(reg.bank_a, prop, 300_000, "CNY", MATURITY)
    second = reg.apply(reg.bank_b, prop, 100_000)

    assert applied.pledge_id == pledge_id(prop, 1)
    assert second == pledge_id(prop, 2)
    institution = reg.registry.institution_of(reg.bank_a.address)
    assert institution == bytes(12) + bytes.fromhex(reg.bank_a.address[2:])
    assert reg.registry.get_pledge(applied.pledge_id) == PledgeState(
        status=PledgeStatus.PENDING,
        reason_code=0,
        maturity=MATURITY,
        lender=reg.bank_a.address,
        property=prop,
        institution=institution,
        amount=300_000,
    )
    assert reg.registry.events(applied.tx, "PledgeApplied") == [
        {
            "pledgeId": applied.pledge_id,
            "property": prop,
            "lender": reg.bank_a.address,
            "institution": institution,
            "sequence": 1,
            "amount": 300_000,
            "currency": b"CNY",
            "maturity": MATURITY,
        }
    ]
    # Applying changes nothing on the property but its application count.
    assert reg.registry.get_property(prop) == replace(registered, applications=2)
    assert reg.registry.title(prop) == replace(title, property=replace(registered, applications=2))
    assert reg.registry.active_pledges(prop) == []


@pytest.mark.parametrize(
    ("label", "amount", "currency", "maturity", "rule"),
    [
        ("X", 1, "CNY", MATURITY, "property-not-found"),
        ("P1", 0, "CNY", MATURITY, "zero-amount"),
        ("P1", 1, "USD", MATURITY, "pledge-currency-mismatch"),
        ("P1", 1, "CNY", 1, "maturity-not-in-future"),
    ],
)
def test_apply_refusals(
    reg: Registry, label: str, amount: int, currency: str, maturity: int, rule: str
) -> None:
    prop = reg.register("P1")
    reg.violated(
        rule, lambda: reg.registry.apply(reg.bank_a, fp(label), amount, currency, maturity)
    )
    assert reg.registry.get_property(prop).applications == 0


def test_currency_mismatch_names_both_currencies(reg: Registry) -> None:
    prop = reg.register("P1")
    details = reg.violated(
        "pledge-currency-mismatch", lambda: reg.apply(reg.bank_a, prop, 1, currency="USD")
    )
    assert details == {
        "property": hx(prop),
        "propertyCurrency": hx(b"CNY"),
        "currency": hx(b"USD"),
    }


def test_an_application_on_a_seized_property_or_beyond_headroom_is_accepted(
    reg: Registry,
) -> None:
    """Rules are applied at the decision, so that the refusal can be recorded."""
    prop = reg.register("P1")
    reg.registry.seize(reg.enforcer, prop, CASE)
    pid = reg.apply(reg.bank_a, prop, 10 * VALUE)
    assert reg.registry.get_pledge(pid).status is PledgeStatus.PENDING
