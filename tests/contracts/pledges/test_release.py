"""releasePledge: by the pledgee institution's accounts or the registrar; juniors move up."""

from __future__ import annotations

from eth_utils.crypto import keccak

from registry.contracts.pledges import PledgeStatus
from registry.contracts.roles import LENDER_ROLE
from tests.conftest import fp, hx
from tests.contracts.pledges.conftest import CAP, Registry


def test_release_in_the_middle_moves_juniors_up(any_reg: Registry) -> None:
    reg = any_reg
    prop = reg.register("P1")
    p1, p2, p3, p4 = (reg.pledge(reg.bank_a, prop, 100_000) for _ in range(4))

    tx = reg.registry.release(reg.bank_a, p2)

    assert reg.registry.events(tx, "PledgeReleased") == [
        {
            "pledgeId": p2,
            "property": prop,
            "releasedBy": reg.bank_a.address,
            "rank": 2,
            "amount": 100_000,
            "securedAmount": 300_000,
            "headroom": CAP - 300_000,
        }
    ]
    assert reg.ranks(prop) == [(p1, 1), (p3, 2), (p4, 3)]
    assert reg.registry.rank_of(p2) == 0
    assert reg.registry.get_pledge(p2).status is PledgeStatus.RELEASED

    reg.registry.release(reg.bank_a, p4)  # the most junior
    reg.registry.release(reg.bank_a, p1)  # the most senior
    assert reg.ranks(prop) == [(p3, 1)]
    assert reg.registry.get_property(prop).secured_amount == 100_000
    p5 = reg.pledge(reg.bank_b, prop, 1)
    assert reg.ranks(prop) == [(p3, 1), (p5, 2)]


def test_registrar_releases_on_the_banks_instruction(reg: Registry) -> None:
    prop = reg.register("P1")
    pid = reg.pledge(reg.bank_a, prop, 1_000)
    tx = reg.registry.release(reg.registrar, pid)
    assert reg.registry.events(tx, "PledgeReleased")[0]["releasedBy"] == reg.registrar.address
    assert reg.registry.headroom(prop) == CAP


def test_two_accounts_of_one_institution_can_both_release(reg: Registry) -> None:
    prop = reg.register("P1")
    bank_a_branch = reg.new_signer(LENDER_ROLE)
    institution = keccak(text="Bank A")
    for account in (reg.bank_a, bank_a_branch):
        reg.registry.assign_institution(reg.admin, account.address, institution)

    by_head_office = reg.pledge(reg.bank_a, prop, 1_000)
    by_branch = reg.pledge(bank_a_branch, prop, 2_000)
    assert reg.registry.get_pledge(by_branch).institution == institution

    details = reg.violated(
        "release-not-authorized", lambda: reg.registry.release(reg.bank_b, by_head_office)
    )
    assert details == {
        "pledgeId": hx(by_head_office),
        "account": reg.bank_b.address,
        "pledgee": hx(institution),
    }
    reg.registry.release(bank_a_branch, by_head_office)
    reg.registry.release(reg.bank_a, by_branch)
    assert reg.registry.active_pledges(prop) == []


def test_the_pledgee_is_fixed_at_application(reg: Registry) -> None:
    prop = reg.register("P1")
    pid = reg.pledge(reg.bank_a, prop, 1_000)
    # The account moves to another institution: the pledge stays with the one it applied for.
    reg.registry.assign_institution(reg.admin, reg.bank_a.address, keccak(text="Bank C"))
    reg.violated("release-not-authorized", lambda: reg.registry.release(reg.bank_a, pid))


def test_release_refused_unless_active(reg: Registry) -> None:
    prop = reg.register("P1")
    pending = reg.apply(reg.bank_a, prop, 1_000)
    details = reg.violated("pledge-not-active", lambda: reg.registry.release(reg.bank_a, pending))
    assert details == {"pledgeId": hx(pending), "status": PledgeStatus.PENDING}

    active = reg.pledge(reg.bank_a, prop, 1_000)
    reg.registry.release(reg.bank_a, active)
    details = reg.violated("pledge-not-active", lambda: reg.registry.release(reg.bank_a, active))
    assert details["status"] == PledgeStatus.RELEASED
    reg.violated("pledge-not-found", lambda: reg.registry.release(reg.bank_a, fp("nope")))
