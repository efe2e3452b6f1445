"""approvePledge: ranks in approval order, within the headroom and the bound on active
pledges; amounts and sequences beyond the packed fields keep their exact values.
"""

from __future__ import annotations

from eth_utils.crypto import keccak

from registry.artifacts import load_artifact
from registry.contracts.pledges import MAX_ACTIVE_PLEDGES, PledgeStatus, RuleReason, pledge_id
from tests.conftest import fp, hx
from tests.contracts.pledges.conftest import CAP, Registry
from tests.helpers import MATURITY


def test_approval_ranks_in_approval_order(any_reg: Registry) -> None:
    reg = any_reg
    prop = reg.register("P1")
    applied_first = reg.apply(reg.bank_a, prop, 100_000)
    applied_second = reg.apply(reg.bank_b, prop, 200_000)

    # Approval order, not application order, sets the rank.
    tx = reg.registry.approve(reg.registrar, applied_second)
    reg.registry.approve(reg.registrar, applied_first)

    assert reg.registry.events(tx, "PledgeApproved") == [
        {
            "pledgeId": applied_second,
            "property": prop,
            "registrar": reg.registrar.address,
            "rank": 1,
            "amount": 200_000,
            "securedAmount": 200_000,
            "headroom": CAP - 200_000,
        }
    ]
    assert reg.registry.active_pledges(prop) == [applied_second, applied_first]
    assert reg.registry.rank_of(applied_second) == 1
    assert reg.registry.rank_of(applied_first) == 2
    assert reg.registry.get_property(prop).secured_amount == 300_000
    assert reg.registry.headroom(prop) == CAP - 300_000
    assert reg.registry.get_pledge(applied_first).status is PledgeStatus.ACTIVE


def test_approval_up_to_exactly_the_cap(reg: Registry) -> None:
    prop = reg.register("P1")
    reg.pledge(reg.bank_a, prop, CAP - 1)
    reg.pledge(reg.bank_b, prop, 1)
    assert reg.registry.headroom(prop) == 0


def test_approval_beyond_headroom_is_refused(reg: Registry) -> None:
    prop = reg.register("P1")
    reg.pledge(reg.bank_a, prop, 500_000)
    pid = reg.apply(reg.bank_b, prop, 200_001)

    details = reg.violated(
        "pledge-exceeds-headroom", lambda: reg.registry.approve(reg.registrar, pid)
    )
    assert details == {"property": hx(prop), "amount": 200_001, "headroom": 200_000}
    assert reg.registry.get_pledge(pid).status is PledgeStatus.PENDING
    assert reg.registry.get_property(prop).secured_amount == 500_000


def test_approval_refused_unless_pending(reg: Registry) -> None:
    prop = reg.register("P1")
    pid = reg.pledge(reg.bank_a, prop, 1)
    details = reg.violated("pledge-not-pending", lambda: reg.registry.approve(reg.registrar, pid))
    assert details == {"pledgeId": hx(pid), "status": PledgeStatus.ACTIVE}
    details = reg.violated(
        "pledge-not-found", lambda: reg.registry.approve(reg.registrar, fp("nope"))
    )
    assert details == {"pledgeId": hx(fp("nope"))}


def test_active_pledges_per_property_are_bounded(reg: Registry) -> None:
    prop = reg.register("P1")
    count = MAX_ACTIVE_PLEDGES + 1
    apply = reg.registry.call_data("applyForPledge", prop, 1_000, b"CNY", MATURITY)
    reg.registry.multicall(reg.bank_a, [apply] * count)
    ids = [pledge_id(prop, n) for n in range(1, count + 1)]
    approvals = [reg.registry.call_data("approvePledge", pid) for pid in ids[:-1]]
    reg.registry.multicall(reg.registrar, approvals)
    assert reg.registry.active_pledges(prop) == ids[:-1]

    details = reg.violated(
        "too-many-active-pledges", lambda: reg.registry.approve(reg.registrar, ids[-1])
    )
    assert details == {"property": hx(prop), "max": MAX_ACTIVE_PLEDGES}
    decision = reg.registry.decide(reg.registrar, ids[-1])
    assert decision.reason_code == RuleReason.TOO_MANY_ACTIVE_PLEDGES

    # Releasing the most senior of a full property shifts 15 juniors: the bound keeps it cheap.
    release = reg.registry.release(reg.bank_a, ids[0])
    assert release.gas_used < 160_000
    assert [rank for _, rank in reg.ranks(prop)] == list(range(1, MAX_ACTIVE_PLEDGES))


def test_amounts_too_large_for_the_packed_fields_keep_their_exact_values(reg: Registry) -> None:
    """Amounts are packed into narrower fields beside the status (112 bits for a property's
    appraisal and secured total, 48 for a pledge's amount); a larger uint256 is kept in a slot of
    its own, so every amount reads back, and counts, exactly."""
    appraisal = 2**200
    prop = reg.register("P1", value=appraisal, ltv_bps=10_000)
    assert reg.registry.get_property(prop).appraised_value == appraisal
    assert reg.registry.headroom(prop) == appraisal
    amounts = [2**48 - 2, 2**48 - 1, 2**120 + 7, 2**112 - 1]
    ids = [reg.apply(reg.bank_a, prop, amount) for amount in amounts]
    assert [reg.registry.get_pledge(pid).amount for pid in ids] == amounts
    secured = 0
    for pid, amount in zip(ids, amounts, strict=True):
        tx = reg.registry.approve(reg.registrar, pid)
        secured += amount
        (approved,) = reg.registry.events(tx, "PledgeApproved")
        assert (approved["amount"], approved["securedAmount"]) == (amount, secured)
        assert approved["headroom"] == appraisal - secured
    assert reg.registry.get_property(prop).secured_amount == secured

    # Back under 2**112 - 1, the secured total fits its field again.
    for pid, amount in ((ids[2], amounts[2]), (ids[3], amounts[3])):
        tx = reg.registry.release(reg.bank_a, pid)
        secured -= amount
        (released,) = reg.registry.events(tx, "PledgeReleased")
        assert (released["amount"], released["securedAmount"]) == (amount, secured)
    assert secured == 2**49 - 3
    assert reg.registry.get_property(prop).secured_amount == secured
    assert reg.registry.headroom(prop) == appraisal - secured

    # And so does an appraisal lowered under it; a huge one that rejects is recorded exactly too.
    reg.registry.update_appraisal(reg.registrar, prop, 2**60)
    assert reg.registry.get_property(prop).appraised_value == 2**60
    assert reg.registry.headroom(prop) == 2**60 - secured
    big = reg.apply(reg.bank_b, prop, 2**90)
    decision = reg.registry.decide(reg.registrar, big)
    assert decision.reason_code == RuleReason.EXCEEDS_HEADROOM
    (rejected,) = reg.registry.events(decision.tx, "PledgeRejected")
    assert (rejected["amount"], rejected["headroom"]) == (2**90, 2**60 - secured)


def test_application_sequences_too_large_for_the_packed_field_rank_and_release(
    reg: Registry,
) -> None:
    """A pledge head carries its application sequence in 24 bits, for approvals to rank by; from
    2**24 - 1 on, the full sequence is read from the pledge's other slot. Reaching that many
    applications takes millions of transactions, so the test sets the property's counter."""
    prop = reg.register("P1")
    _set_applications(reg, prop, 2**24 - 3)
    sequences = [2**24 - 2, 2**24 - 1, 2**24]
    ids = [reg.apply(reg.bank_a, prop, 1_000) for _ in sequences]
    assert ids == [pledge_id(prop, n) for n in sequences]
    for pid in reversed(ids):
        reg.registry.approve(reg.registrar, pid)
    assert reg.registry.active_pledges(prop) == ids[::-1]
    assert [reg.registry.rank_of(pid) for pid in ids] == [3, 2, 1]
    reg.registry.release(reg.bank_a, ids[1])
    assert reg.ranks(prop) == [(ids[2], 1), (ids[0], 2)]
    assert reg.registry.get_property(prop).applications == 2**24


def _set_applications(reg: Registry, prop: bytes, applications: int) -> None:
    """Sets the application counter of ``prop`` in storage (anvil): the word after the property's
    head packs key version (16 bits), currency (24) and the counter (64). The mapping's slot is
    the compiler's (the artifact's storage layout); the word found there must hold this
    property's key version and currency."""
    w3 = reg.stack.chain.w3
    address = reg.registry.address
    layout = load_artifact("PledgeRegistry").storage_layout
    assert layout is not None
    (base,) = [int(item["slot"]) for item in layout["storage"] if item["label"] == "_properties"]
    entry = int.from_bytes(keccak(prop + base.to_bytes(32, "big")), "big")
    expected = 1 | (int.from_bytes(b"CNY", "big") << 16)
    assert int.from_bytes(w3.eth.get_storage_at(address, entry + 1), "big") == expected
    value = expected | (applications << 40)
    w3.provider.make_request(
        "anvil_setStorageAt",  # type: ignore[arg-type]
        [address, hex(entry + 1), "0x" + value.to_bytes(32, "big").hex()],
    )
    assert reg.registry.get_property(prop).applications == applications
