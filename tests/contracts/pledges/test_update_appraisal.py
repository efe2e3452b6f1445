"""updateAppraisal: a new appraisal moves the headroom; pledges beyond a lowered cap stay."""

from __future__ import annotations

from tests.conftest import fp, hx
from tests.contracts.pledges.conftest import CAP, VALUE, Registry


def test_appraisal_update(reg: Registry) -> None:
    prop = reg.register("P1")
    tx = reg.registry.update_appraisal(reg.registrar, prop, 2 * VALUE)
    assert reg.registry.get_property(prop).appraised_value == 2 * VALUE
    assert reg.registry.events(tx, "AppraisalUpdated") == [
        {
            "property": prop,
            "registrar": reg.registrar.address,
            "appraisedValue": 2 * VALUE,
            "headroom": 2 * CAP,
        }
    ]
    reg.violated("zero-amount", lambda: reg.registry.update_appraisal(reg.registrar, prop, 0))
    reg.violated(
        "property-not-found", lambda: reg.registry.update_appraisal(reg.registrar, fp("X"), 1)
    )


def test_lowered_appraisal_keeps_pledges_and_new_ones_wait_for_headroom(reg: Registry) -> None:
    prop = reg.register("P1")
    first = reg.pledge(reg.bank_a, prop, 400_000)
    second = reg.pledge(reg.bank_b, prop, 200_000)
    tx = reg.registry.update_appraisal(
        reg.registrar, prop, 500_000
    )  # cap 350,000 < 600,000 secured

    assert reg.registry.events(tx, "AppraisalUpdated")[0]["headroom"] == 0
    assert reg.registry.headroom(prop) == 0
    assert reg.ranks(prop) == [(first, 1), (second, 2)]
    assert reg.registry.get_property(prop).secured_amount == 600_000

    waiting = reg.apply(reg.bank_b, prop, 50_000)
    details = reg.violated(
        "pledge-exceeds-headroom", lambda: reg.registry.approve(reg.registrar, waiting)
    )
    assert details == {"property": hx(prop), "amount": 50_000, "headroom": 0}

    # Releasing the senior brings the secured total (200,000) under the new cap (350,000).
    reg.registry.release(reg.bank_a, first)
    assert reg.registry.headroom(prop) == 150_000
    reg.registry.approve(reg.registrar, waiting)
    assert reg.ranks(prop) == [(second, 1), (waiting, 2)]
