"""seize and unseize: a seized property takes no new pledge; each court lifts only its own
seizures.
"""

from __future__ import annotations

from eth_utils.crypto import keccak

from registry.contracts.pledges import PropertyStatus
from registry.contracts.roles import ENFORCER_ROLE
from tests.conftest import fp, hx
from tests.contracts.pledges.conftest import CAP, CASE, Registry


def test_seized_property_takes_no_new_pledge_but_keeps_its_pledges(any_reg: Registry) -> None:
    reg = any_reg
    prop = reg.register("P1")
    existing = reg.pledge(reg.bank_a, prop, 100_000)
    waiting = reg.apply(reg.bank_b, prop, 100_000)

    tx = reg.registry.seize(reg.enforcer, prop, CASE)

    court = reg.registry.institution_of(reg.enforcer.address)
    assert reg.registry.events(tx, "SeizureImposed") == [
        {
            "property": prop,
            "caseRef": CASE,
            "enforcer": reg.enforcer.address,
            "court": court,
            "seizures": 1,
        }
    ]
    title = reg.registry.title(prop)
    assert (title.property.status, title.property.seizures, title.headroom) == (
        PropertyStatus.SEIZED,
        1,
        0,
    )
    assert title.property.capacity == CAP - 100_000
    assert [(p.pledge_id, p.rank, p.pledge.amount) for p in title.pledges] == [
        (existing, 1, 100_000)
    ]
    details = reg.violated("property-seized", lambda: reg.registry.approve(reg.registrar, waiting))
    assert details == {"property": hx(prop), "seizures": 1}

    # Existing pledges can still be released while seized.
    reg.registry.release(reg.bank_a, existing)
    assert reg.registry.active_pledges(prop) == []

    reg.registry.unseize(reg.enforcer, prop, CASE)
    assert reg.registry.headroom(prop) == CAP
    reg.registry.approve(reg.registrar, waiting)
    assert reg.ranks(prop) == [(waiting, 1)]


def test_seizure_rules(reg: Registry) -> None:
    prop = reg.register("P1")
    other_case = keccak(text="another case")
    details = reg.violated(
        "seizure-not-found", lambda: reg.registry.unseize(reg.enforcer, prop, CASE)
    )
    assert details == {"property": hx(prop), "caseRef": hx(CASE)}
    reg.violated("missing-case-ref", lambda: reg.registry.seize(reg.enforcer, prop, bytes(32)))
    reg.violated("property-not-found", lambda: reg.registry.seize(reg.enforcer, fp("X"), CASE))
    reg.violated("property-not-found", lambda: reg.registry.unseize(reg.enforcer, fp("X"), CASE))

    reg.registry.seize(reg.enforcer, prop, CASE)
    details = reg.violated(
        "seizure-already-imposed", lambda: reg.registry.seize(reg.enforcer, prop, CASE)
    )
    assert details == {"property": hx(prop), "caseRef": hx(CASE)}
    details = reg.violated(
        "seizure-not-found", lambda: reg.registry.unseize(reg.enforcer, prop, other_case)
    )
    assert details == {"property": hx(prop), "caseRef": hx(other_case)}

    court = reg.registry.institution_of(reg.enforcer.address)
    tx = reg.registry.unseize(reg.enforcer, prop, CASE)
    assert reg.registry.events(tx, "SeizureLifted") == [
        {
            "property": prop,
            "caseRef": CASE,
            "enforcer": reg.enforcer.address,
            "court": court,
            "seizures": 0,
        }
    ]
    state = reg.registry.get_property(prop)
    assert (state.status, state.seizures) == (PropertyStatus.NORMAL, 0)
    assert reg.registry.seizure_of(prop, CASE) is None
    # The same case may seize it again once lifted.
    reg.registry.seize(reg.enforcer, prop, CASE)
    assert reg.registry.seizure_of(prop, CASE) == court


def test_several_courts_seize_and_each_lifts_only_its_own(reg: Registry) -> None:
    """Concurrent seizures are all kept; the property is seized until the last is lifted; a
    court cannot lift another court's seizure (case references are public), the admin can."""
    prop = reg.register("P1")
    other_court = reg.new_signer(ENFORCER_ROLE)
    other_case = keccak(text="another court's case")
    third_case = keccak(text="a third case")
    reg.registry.seize(reg.enforcer, prop, CASE)
    tx = reg.registry.seize(other_court, prop, other_case)
    (event,) = reg.registry.events(tx, "SeizureImposed")
    assert (event["court"], event["seizures"]) == (
        reg.registry.institution_of(other_court.address),
        2,
    )
    reg.registry.seize(other_court, prop, third_case)
    assert reg.registry.get_property(prop).seizures == 3

    details = reg.violated(
        "seizure-not-liftable", lambda: reg.registry.unseize(reg.enforcer, prop, other_case)
    )
    assert details == {
        "property": hx(prop),
        "caseRef": hx(other_case),
        "court": hx(reg.registry.institution_of(other_court.address)),
    }
    reg.violated("seizure-not-liftable", lambda: reg.registry.unseize(other_court, prop, CASE))

    reg.registry.unseize(reg.enforcer, prop, CASE)
    state = reg.registry.get_property(prop)
    assert (state.status, state.seizures) == (PropertyStatus.SEIZED, 2)
    assert reg.registry.headroom(prop) == 0
    # The admin may lift any court's seizure (a court's order, carried out for it).
    tx = reg.registry.unseize(reg.admin, prop, other_case)
    (event,) = reg.registry.events(tx, "SeizureLifted")
    assert (event["enforcer"], event["seizures"]) == (reg.admin.address, 1)
    reg.registry.unseize(other_court, prop, third_case)
    state = reg.registry.get_property(prop)
    assert (state.status, state.seizures) == (PropertyStatus.NORMAL, 0)
    assert reg.registry.headroom(prop) == CAP


def test_a_court_moved_to_another_institution_no_longer_lifts_its_old_seizures(
    reg: Registry,
) -> None:
    prop = reg.register("P1")
    reg.registry.seize(reg.enforcer, prop, CASE)
    reg.registry.assign_institution(reg.admin, reg.enforcer.address, keccak(text="Other court"))
    reg.violated("seizure-not-liftable", lambda: reg.registry.unseize(reg.enforcer, prop, CASE))
    assert reg.registry.get_property(prop).seizures == 1
