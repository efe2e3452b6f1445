"""decidePledge: approves when every rule passes, else records the refusal by its rule."""

from __future__ import annotations

from dataclasses import replace

from registry.contracts.pledges import PledgeStatus, RuleReason
from tests.conftest import fp
from tests.contracts.pledges.conftest import CAP, CASE, Registry


def test_decide_approves_when_every_rule_passes(reg: Registry) -> None:
    prop = reg.register("P1")
    pid = reg.apply(reg.bank_a, prop, CAP)
    decision = reg.registry.decide(reg.registrar, pid)
    assert decision.approved
    assert decision.reason_code == 0
    assert reg.registry.events(decision.tx, "PledgeApproved")[0]["rank"] == 1
    assert reg.registry.rank_of(pid) == 1


def test_decide_records_a_refusal_beyond_headroom(any_reg: Registry) -> None:
    reg = any_reg
    prop = reg.register("P1")
    senior = reg.pledge(reg.bank_a, prop, 600_000)
    pid = reg.apply(reg.bank_b, prop, 150_000)
    property_before = reg.registry.get_property(prop)
    title_before = reg.registry.title(prop)
    pledge_before = reg.registry.get_pledge(pid)
    head = reg.stack.chain.block_number()

    decision = reg.registry.decide(reg.registrar, pid)

    assert reg.stack.chain.block_number() == head + 1
    assert not decision.approved
    assert decision.reason_code == RuleReason.EXCEEDS_HEADROOM
    # The record an auditor replays: which document, which bank, why.
    assert reg.registry.events(decision.tx, "PledgeRejected") == [
        {
            "pledgeId": pid,
            "property": prop,
            "institution": reg.registry.institution_of(reg.bank_b.address),
            "lender": reg.bank_b.address,
            "reasonCode": RuleReason.EXCEEDS_HEADROOM,
            "amount": 150_000,
            "headroom": 100_000,
            "registrar": reg.registrar.address,
        }
    ]
    assert reg.registry.events(decision.tx, "PledgeApproved") == []
    # Only the rejection changed.
    assert reg.registry.get_pledge(pid) == replace(
        pledge_before, status=PledgeStatus.REJECTED, reason_code=RuleReason.EXCEEDS_HEADROOM
    )
    assert reg.registry.get_property(prop) == property_before
    assert reg.registry.title(prop) == title_before
    assert reg.ranks(prop) == [(senior, 1)]
    # A decided pledge is decided for good.
    reg.violated("pledge-not-pending", lambda: reg.registry.decide(reg.registrar, pid))
    reg.violated("pledge-not-pending", lambda: reg.registry.approve(reg.registrar, pid))


def test_decide_records_a_refusal_on_a_seized_property(reg: Registry) -> None:
    prop = reg.register("P1")
    reg.registry.seize(reg.enforcer, prop, CASE)
    pid = reg.apply(reg.bank_a, prop, 1)
    property_before = reg.registry.get_property(prop)

    decision = reg.registry.decide(reg.registrar, pid)

    assert decision.reason_code == RuleReason.PROPERTY_SEIZED
    (event,) = reg.registry.events(decision.tx, "PledgeRejected")
    assert (event["reasonCode"], event["headroom"], event["amount"]) == (1, 0, 1)
    assert reg.registry.get_property(prop) == property_before
    assert reg.registry.get_pledge(pid).status is PledgeStatus.REJECTED


def test_decide_refuses_what_it_cannot_record(reg: Registry) -> None:
    reg.violated("pledge-not-found", lambda: reg.registry.decide(reg.registrar, fp("nope")))
