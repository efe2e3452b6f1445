"""PledgeRegistry's rules, exercised through the typed binding against real nodes.

The tests act on the stack's own registry (the snapshot taken around each test undoes what it
did). Each refusal is checked for its decoded domain error, its rule, and for leaving the chain
unchanged (no block mined, the head's hash as before): the binding estimates first, so a refused
operation sends nothing. The exception is
``decidePledge``, whose point is to record the refusal: there, exactly one block is mined and the
rejection is the only change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import errors
from registry.chain.client import Signer, TxResult
from registry.contracts.pledges import (
    MAX_ACTIVE_PLEDGES,
    POLICY_DEFAULT_MAX_LTV_BPS,
    PledgeRegistry,
    PledgeState,
    PledgeStatus,
    PropertyState,
    PropertyStatus,
    RuleReason,
    pledge_id,
)
from registry.contracts.roles import ENFORCER_ROLE, LENDER_ROLE, REGISTRAR_ROLE
from tests.conftest import Stack, fp, hx
from tests.helpers import MATURITY, Deployed
from tests.models.pledges import PropertyModel

VALUE = 1_000_000  # appraised value; at the default 70% LTV the cap is 700,000
CAP = VALUE * POLICY_DEFAULT_MAX_LTV_BPS // 10_000
CASE = keccak(text="court case 2026-17")


@dataclass
class Registry(Deployed[PledgeRegistry]):
    """The stack's PledgeRegistry with one account per role: the registry center's clerk
    (registrar), the court (enforcer), the two banks (lenders), and customs as the outsider, which
    holds no role on this contract."""

    @property
    def registrar(self) -> Signer:
        return self.stack.registrar.signer

    @property
    def enforcer(self) -> Signer:
        return self.stack.enforcer.signer

    @property
    def outsider(self) -> Signer:
        return self.stack.verifier.signer

    @property
    def bank_a(self) -> Signer:
        return self.stack.bank_a.signer

    @property
    def bank_b(self) -> Signer:
        return self.stack.bank_b.signer

    def register(self, label: str, value: int = VALUE, ltv_bps: int = 0) -> bytes:
        self.registry.register_property(self.registrar, fp(label), 1, value, "CNY", ltv_bps)
        return fp(label)

    def apply(self, bank: Signer, prop: bytes, amount: int, currency: str = "CNY") -> bytes:
        return self.registry.apply(bank, prop, amount, currency, MATURITY).pledge_id

    def pledge(self, bank: Signer, prop: bytes, amount: int) -> bytes:
        """Applies and approves: an active pledge."""
        pid = self.apply(bank, prop, amount)
        self.registry.approve(self.registrar, pid)
        return pid

    def ranks(self, prop: bytes) -> list[tuple[bytes, int]]:
        return [(p.pledge_id, p.rank) for p in self.registry.title(prop).pledges]


@pytest.fixture
def reg(stack: Stack) -> Registry:
    return Registry(stack, stack.pledges)


@pytest.fixture
def any_reg(any_stack: Stack) -> Registry:
    return Registry(any_stack, any_stack.pledges)


# --- properties -----------------------------------------------------------------------------------


def test_register_property_applies_the_default_ltv(any_reg: Registry) -> None:
    reg = any_reg
    tx = reg.registry.register_property(reg.registrar, fp("P1"), 3, VALUE, "CNY")

    assert reg.registry.get_property(fp("P1")) == PropertyState(
        status=PropertyStatus.NORMAL,
        key_version=3,
        max_ltv_bps=POLICY_DEFAULT_MAX_LTV_BPS,
        currency="CNY",
        applications=0,
        appraised_value=VALUE,
        secured_amount=0,
        seizures=0,
    )
    assert reg.registry.headroom(fp("P1")) == CAP
    (event,) = reg.registry.events(tx, "PropertyRegistered")
    assert event == {
        "property": fp("P1"),
        "registrar": reg.registrar.address,
        "keyVersion": 3,
        "appraisedValue": VALUE,
        "currency": b"CNY",
        "maxLtvBps": POLICY_DEFAULT_MAX_LTV_BPS,
    }


def test_register_property_with_its_own_ltv(reg: Registry) -> None:
    prop = reg.register("P1", ltv_bps=5000)
    assert reg.registry.get_property(prop).max_ltv_bps == 5000
    assert reg.registry.headroom(prop) == VALUE // 2


@pytest.mark.parametrize(
    ("value", "ltv_bps", "rule"),
    [(0, 0, "zero-amount"), (VALUE, 10_001, "max-ltv-out-of-range")],
)
def test_register_property_refuses_bad_terms(
    reg: Registry, value: int, ltv_bps: int, rule: str
) -> None:
    reg.violated(rule, lambda: reg.register("P1", value=value, ltv_bps=ltv_bps))
    assert reg.registry.get_property(fp("P1")).status is PropertyStatus.NONE


def test_property_registered_once(reg: Registry) -> None:
    prop = reg.register("P1")
    details = reg.violated(
        "property-already-registered", lambda: reg.register("P1", value=VALUE * 2)
    )
    assert details == {"property": hx(prop)}
    assert reg.registry.get_property(prop).appraised_value == VALUE


def test_admin_sets_the_default_ltv_for_new_properties(reg: Registry) -> None:
    old = reg.register("P1")
    tx = reg.registry.set_default_max_ltv(reg.admin, 6000)
    new = reg.register("P2")

    assert reg.registry.default_max_ltv_bps() == 6000
    assert reg.registry.events(tx, "DefaultMaxLtvSet") == [
        {"maxLtvBps": 6000, "admin": reg.admin.address}
    ]
    assert reg.registry.get_property(old).max_ltv_bps == POLICY_DEFAULT_MAX_LTV_BPS
    assert reg.registry.get_property(new).max_ltv_bps == 6000
    for bad in (0, 10_001):
        details = reg.violated(
            "max-ltv-out-of-range", lambda bad=bad: reg.registry.set_default_max_ltv(reg.admin, bad)
        )
        assert details == {"maxLtvBps": bad}


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


# --- applications ---------------------------------------------------------------------------------


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


# --- approval -------------------------------------------------------------------------------------


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
    found, not assumed: it is the one whose entry for ``prop`` holds this property's key version
    and currency."""
    w3 = reg.stack.chain.w3
    address = reg.registry.address
    expected = 1 | (int.from_bytes(b"CNY", "big") << 16)
    for base in range(32):
        entry = int.from_bytes(keccak(prop + base.to_bytes(32, "big")), "big")
        word = int.from_bytes(w3.eth.get_storage_at(address, entry + 1), "big")
        if word == expected:
            value = expected | (applications << 40)
            w3.provider.make_request(
                "anvil_setStorageAt",  # type: ignore[arg-type]
                [address, hex(entry + 1), "0x" + value.to_bytes(32, "big").hex()],
            )
            assert reg.registry.get_property(prop).applications == applications
            return
    raise AssertionError("the properties mapping was not found in storage")


# --- decisions by rule: refusals recorded ---------------------------------------------------------


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


def test_clerk_rejects_with_a_reason_code(reg: Registry) -> None:
    prop = reg.register("P1")
    pid = reg.apply(reg.bank_a, prop, 1_000)

    details = reg.violated(
        "reason-code-reserved", lambda: reg.registry.reject(reg.registrar, pid, 99)
    )
    assert details == {"reasonCode": 99}
    tx = reg.registry.reject(reg.registrar, pid, 101)

    (event,) = reg.registry.events(tx, "PledgeRejected")
    assert (event["reasonCode"], event["amount"], event["headroom"]) == (101, 1_000, CAP)
    state = reg.registry.get_pledge(pid)
    assert (state.status, state.reason_code) == (PledgeStatus.REJECTED, 101)
    reg.violated("pledge-not-pending", lambda: reg.registry.reject(reg.registrar, pid, 101))
    reg.violated("pledge-not-found", lambda: reg.registry.reject(reg.registrar, fp("nope"), 101))


# --- release and rank ---------------------------------------------------------------------------


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


# --- seizure --------------------------------------------------------------------------------------


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


# --- views ----------------------------------------------------------------------------------------


def test_views_of_an_unknown_property_and_pledge(reg: Registry) -> None:
    title = reg.registry.title(fp("X"))
    assert title.property.status is PropertyStatus.NONE
    assert (title.headroom, title.pledges) == (0, ())
    assert reg.registry.headroom(fp("X")) == 0
    assert reg.registry.active_pledges(fp("X")) == []
    assert reg.registry.get_pledge(fp("nope")).status is PledgeStatus.NONE
    assert reg.registry.rank_of(fp("nope")) == 0


def test_title_as_of_a_past_block(reg: Registry) -> None:
    prop = reg.register("P1")
    pid = reg.pledge(reg.bank_a, prop, 1_000)
    block = reg.stack.chain.block_number()
    reg.registry.release(reg.bank_a, pid)
    assert [p.pledge_id for p in reg.registry.title(prop, block).pledges] == [pid]
    assert reg.registry.title(prop).pledges == ()


# --- batching -------------------------------------------------------------------------------------


def test_multicall_batches_and_is_all_or_nothing(any_reg: Registry) -> None:
    reg = any_reg
    data = reg.registry.call_data
    reg.registry.multicall(
        reg.registrar,
        [
            data("registerProperty", fp("P1"), 1, VALUE, b"CNY", 0),
            data("registerProperty", fp("P2"), 1, VALUE, b"CNY", 0),
            data("updateAppraisal", fp("P2"), 2 * VALUE),
        ],
    )
    assert reg.registry.get_property(fp("P2")).appraised_value == 2 * VALUE

    fits = reg.apply(reg.bank_a, fp("P1"), CAP)
    too_big = reg.apply(reg.bank_b, fp("P1"), 1)
    # The second approval fails, so the first does not happen either: approvePledge reverts.
    details = reg.violated(
        "pledge-exceeds-headroom",
        lambda: reg.registry.multicall(
            reg.registrar, [data("approvePledge", fits), data("approvePledge", too_big)]
        ),
    )
    assert details["headroom"] == 0
    assert reg.registry.active_pledges(fp("P1")) == []

    # decidePledge in a batch records each outcome instead.
    tx = reg.registry.multicall(
        reg.registrar, [data("decidePledge", fits), data("decidePledge", too_big)]
    )
    assert [e["pledgeId"] for e in reg.registry.events(tx, "PledgeApproved")] == [fits]
    assert [e["pledgeId"] for e in reg.registry.events(tx, "PledgeRejected")] == [too_big]


def test_a_batched_call_to_no_function_fails_the_whole_batch(reg: Registry) -> None:
    """Multicall delegates each call to the contract itself; a call that matches no function
    reverts without data, which OpenZeppelin reports as FailedCall: the batch's earlier calls are
    undone with it."""
    data = reg.registry.call_data
    calls = [data("registerProperty", fp("P1"), 1, VALUE, b"CNY", 0), bytes.fromhex("deadbeef")]
    details = reg.violated("failed-call", lambda: reg.registry.multicall(reg.registrar, calls))
    assert details == {}
    assert reg.registry.get_property(fp("P1")).status is PropertyStatus.NONE


# --- roles ----------------------------------------------------------------------------------------

Action = Callable[[Registry, Signer], object]

ACTIONS: dict[str, tuple[Action, frozenset[str]]] = {
    "registerProperty": (
        lambda r, s: r.registry.register_property(s, fp("NEW"), 1, VALUE, "CNY"),
        frozenset({"registrar"}),
    ),
    "updateAppraisal": (
        lambda r, s: r.registry.update_appraisal(s, fp("P1"), 1),
        frozenset({"registrar"}),
    ),
    "applyForPledge": (
        lambda r, s: r.registry.apply(s, fp("P1"), 1, "CNY", MATURITY),
        frozenset({"lender"}),
    ),
    "approvePledge": (
        lambda r, s: r.registry.approve(s, pledge_id(fp("P1"), 1)),
        frozenset({"registrar"}),
    ),
    "decidePledge": (
        lambda r, s: r.registry.decide(s, pledge_id(fp("P1"), 1)),
        frozenset({"registrar"}),
    ),
    "rejectPledge": (
        lambda r, s: r.registry.reject(s, pledge_id(fp("P1"), 1), 100),
        frozenset({"registrar"}),
    ),
    # A lender of another institution is refused by a rule, not for its role: tested above.
    "releasePledge": (
        lambda r, s: r.registry.release(s, pledge_id(fp("P1"), 2)),
        frozenset({"registrar", "lender"}),
    ),
    "seize": (
        lambda r, s: r.registry.seize(s, fp("P1"), CASE),
        frozenset({"enforcer"}),
    ),
    "unseize": (
        lambda r, s: r.registry.unseize(s, fp("P2"), CASE),
        frozenset({"enforcer", "admin"}),
    ),
    "setDefaultMaxLtv": (
        lambda r, s: r.registry.set_default_max_ltv(s, 5000),
        frozenset({"admin"}),
    ),
    "assignInstitution": (
        lambda r, s: r.registry.assign_institution(s, s.address, keccak(text="X")),
        frozenset({"admin"}),
    ),
}
ACTORS = ("admin", "registrar", "lender", "enforcer", "outsider")


def _actor(reg: Registry, name: str) -> Signer:
    signers = {
        "admin": reg.admin,
        "registrar": reg.registrar,
        "lender": reg.bank_a,
        "enforcer": reg.enforcer,
        "outsider": reg.outsider,
    }
    return signers[name]


# The role the contract names when it refuses an actor without it (releasePledge, open to lenders
# and registrars, names the lender's).
NEEDED_ROLE: dict[str, bytes] = {
    "registerProperty": REGISTRAR_ROLE,
    "updateAppraisal": REGISTRAR_ROLE,
    "applyForPledge": LENDER_ROLE,
    "approvePledge": REGISTRAR_ROLE,
    "decidePledge": REGISTRAR_ROLE,
    "rejectPledge": REGISTRAR_ROLE,
    "releasePledge": LENDER_ROLE,
    "seize": ENFORCER_ROLE,
    "unseize": ENFORCER_ROLE,
    "setDefaultMaxLtv": bytes(32),
    "assignInstitution": bytes(32),
}


def _role_scene(reg: Registry) -> None:
    """P1 with a pending pledge (sequence 1) and an active one (sequence 2); P2 seized."""
    reg.register("P1")
    reg.register("P2")
    reg.apply(reg.bank_a, fp("P1"), 1)
    reg.pledge(reg.bank_a, fp("P1"), 1)
    reg.registry.seize(reg.enforcer, fp("P2"), CASE)


@pytest.mark.parametrize(
    ("function", "actor"),
    [
        (function, actor)
        for function, (_, allowed) in ACTIONS.items()
        for actor in ACTORS
        if actor not in allowed
    ],
)
def test_roles_are_enforced_on_chain(reg: Registry, function: str, actor: str) -> None:
    _role_scene(reg)
    action, _ = ACTIONS[function]
    signer = _actor(reg, actor)

    error = reg.refused(errors.MissingRole, "missing-role", lambda: action(reg, signer))

    assert error.details == {"account": signer.address, "neededRole": hx(NEEDED_ROLE[function])}


def _tx(result: object) -> TxResult:
    """The transaction of a binding call's result (some return it inside a richer record)."""
    tx = getattr(result, "tx", result)
    assert isinstance(tx, TxResult)
    return tx


Effect = Callable[[Registry, Signer, TxResult], None]


def _registered(reg: Registry, who: Signer, tx: TxResult) -> None:
    (event,) = reg.registry.events(tx, "PropertyRegistered")
    assert (event["property"], event["registrar"]) == (fp("NEW"), who.address)
    assert reg.registry.get_property(fp("NEW")).status is PropertyStatus.NORMAL


def _appraised(reg: Registry, who: Signer, tx: TxResult) -> None:
    (event,) = reg.registry.events(tx, "AppraisalUpdated")
    assert (event["property"], event["registrar"], event["appraisedValue"]) == (
        fp("P1"),
        who.address,
        1,
    )
    assert reg.registry.get_property(fp("P1")).appraised_value == 1


def _applied(reg: Registry, who: Signer, tx: TxResult) -> None:
    pid = pledge_id(fp("P1"), 3)
    (event,) = reg.registry.events(tx, "PledgeApplied")
    assert (event["pledgeId"], event["lender"], event["sequence"]) == (pid, who.address, 3)
    assert reg.registry.get_pledge(pid).status is PledgeStatus.PENDING


def _approved(reg: Registry, who: Signer, tx: TxResult) -> None:
    pid = pledge_id(fp("P1"), 1)
    (event,) = reg.registry.events(tx, "PledgeApproved")
    assert (event["pledgeId"], event["registrar"], event["rank"]) == (pid, who.address, 2)
    assert reg.registry.get_pledge(pid).status is PledgeStatus.ACTIVE
    assert reg.registry.rank_of(pid) == 2


def _rejected(reg: Registry, who: Signer, tx: TxResult) -> None:
    pid = pledge_id(fp("P1"), 1)
    (event,) = reg.registry.events(tx, "PledgeRejected")
    assert (event["pledgeId"], event["registrar"], event["reasonCode"]) == (pid, who.address, 100)
    assert reg.registry.get_pledge(pid).status is PledgeStatus.REJECTED


def _released(reg: Registry, who: Signer, tx: TxResult) -> None:
    pid = pledge_id(fp("P1"), 2)
    (event,) = reg.registry.events(tx, "PledgeReleased")
    assert (event["pledgeId"], event["releasedBy"], event["rank"]) == (pid, who.address, 1)
    assert reg.registry.get_pledge(pid).status is PledgeStatus.RELEASED
    assert reg.registry.active_pledges(fp("P1")) == []


def _seized(reg: Registry, who: Signer, tx: TxResult) -> None:
    court = reg.registry.institution_of(who.address)
    (event,) = reg.registry.events(tx, "SeizureImposed")
    assert (event["property"], event["caseRef"], event["enforcer"], event["court"]) == (
        fp("P1"),
        CASE,
        who.address,
        court,
    )
    assert reg.registry.get_property(fp("P1")).status is PropertyStatus.SEIZED
    assert reg.registry.seizure_of(fp("P1"), CASE) == court


def _lifted(reg: Registry, who: Signer, tx: TxResult) -> None:
    (event,) = reg.registry.events(tx, "SeizureLifted")
    assert (event["property"], event["enforcer"], event["seizures"]) == (fp("P2"), who.address, 0)
    assert reg.registry.get_property(fp("P2")).status is PropertyStatus.NORMAL


def _ltv_set(reg: Registry, who: Signer, tx: TxResult) -> None:
    events = reg.registry.events(tx, "DefaultMaxLtvSet")
    assert events == [{"maxLtvBps": 5000, "admin": who.address}]
    assert reg.registry.default_max_ltv_bps() == 5000


def _assigned(reg: Registry, who: Signer, tx: TxResult) -> None:
    events = reg.registry.events(tx, "InstitutionAssigned")
    assert events == [
        {"account": who.address, "institution": keccak(text="X"), "admin": who.address}
    ]
    assert reg.registry.institution_of(who.address) == keccak(text="X")


EFFECTS: dict[str, Effect] = {
    "registerProperty": _registered,
    "updateAppraisal": _appraised,
    "applyForPledge": _applied,
    "approvePledge": _approved,
    "decidePledge": _approved,
    "rejectPledge": _rejected,
    "releasePledge": _released,
    "seize": _seized,
    "unseize": _lifted,
    "setDefaultMaxLtv": _ltv_set,
    "assignInstitution": _assigned,
}


@pytest.mark.parametrize("function", sorted(ACTIONS))
def test_each_function_succeeds_for_its_role(reg: Registry, function: str) -> None:
    """The other half of the role table: each allowed actor, in the same setup, gets the call's
    effect: its event, naming the actor, and the state it changes."""
    assert set(EFFECTS) == set(ACTIONS)
    _role_scene(reg)
    action, allowed = ACTIONS[function]
    for actor in sorted(allowed):
        snapshot = reg.stack.snapshot()
        who = _actor(reg, actor)
        EFFECTS[function](reg, who, _tx(action(reg, who)))
        reg.stack.revert(snapshot)


def test_an_account_renounces_only_its_own_roles(reg: Registry) -> None:
    """renounceRole is open to anyone, but only for the caller's own account: Bank A cannot strip
    Bank B of its role (OpenZeppelin's AccessControlBadConfirmation)."""
    renounce = reg.registry.contract.functions.renounceRole(LENDER_ROLE, reg.bank_b.address)
    details = reg.violated(
        "access-control-bad-confirmation",
        lambda: reg.registry.chain.transact(reg.bank_a, renounce),
    )
    assert details == {}
    assert reg.registry.has_role(LENDER_ROLE, reg.bank_b.address)
    assert reg.registry.has_role(LENDER_ROLE, reg.bank_a.address)


def test_renounced_role_is_refused(reg: Registry) -> None:
    prop = reg.register("P1")
    pid = reg.pledge(reg.bank_a, prop, 1)
    reg.registry.chain.transact(
        reg.bank_a, reg.registry.contract.functions.renounceRole(LENDER_ROLE, reg.bank_a.address)
    )
    error = reg.refused(
        errors.MissingRole, "missing-role", lambda: reg.registry.release(reg.bank_a, pid)
    )
    assert error.details == {"account": reg.bank_a.address, "neededRole": hx(LENDER_ROLE)}
    assert reg.registry.get_pledge(pid).status is PledgeStatus.ACTIVE


def test_roles_behave_as_in_openzeppelin_access_control(reg: Registry) -> None:
    """The consortium's roles sit in one packed record per account (ConsortiumAccess), any other
    role in AccessControl's own storage: both answer hasRole, and grant, revoke and renounce with
    the same events, and only when something changes."""
    registry, admin = reg.registry, reg.admin
    contract, chain = registry.contract, registry.chain
    account = reg.new_signer()
    for role in (LENDER_ROLE, keccak(text="AUDITOR_ROLE")):
        assert not registry.has_role(role, account.address)
        granted = registry.grant_role(admin, role, account.address)
        expected = {"role": role, "account": account.address, "sender": admin.address}
        assert registry.events(granted, "RoleGranted") == [expected]
        assert (
            registry.events(registry.grant_role(admin, role, account.address), "RoleGranted") == []
        )
        assert registry.has_role(role, account.address)

        revoke = contract.functions.revokeRole(role, account.address)
        assert registry.events(chain.transact(admin, revoke), "RoleRevoked") == [expected]
        assert registry.events(chain.transact(admin, revoke), "RoleRevoked") == []
        assert not registry.has_role(role, account.address)

        registry.grant_role(admin, role, account.address)
        renounce = contract.functions.renounceRole(role, account.address)
        renounced = registry.events(chain.transact(account, renounce), "RoleRevoked")
        assert renounced == [{**expected, "sender": account.address}]
        assert not registry.has_role(role, account.address)
    # Other roles are untouched, and an account acts for itself until assigned, and again after.
    assert registry.has_role(REGISTRAR_ROLE, reg.registrar.address)
    own = account.address.lower().replace("0x", "").rjust(64, "0")
    assert registry.institution_of(account.address).hex() == own
    registry.assign_institution(admin, account.address, keccak(text="Bank C"))
    assert registry.institution_of(account.address) == keccak(text="Bank C")
    registry.assign_institution(admin, account.address, bytes(32))
    assert registry.institution_of(account.address).hex() == own


# --- the contract against a reference model -------------------------------------------------------


OPERATIONS = st.lists(
    st.tuples(
        # Applications and decisions weigh double: they are where the rules bite.
        st.sampled_from(["apply", "apply", "decide", "decide", "release", "seize", "appraise"]),
        st.integers(min_value=1, max_value=VALUE),
    ),
    min_size=4,
    max_size=24,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(operations=OPERATIONS)
def test_contract_agrees_with_the_reference_model(
    reg: Registry, operations: list[tuple[str, int]]
) -> None:
    """After every operation, not only at the end: a divergence is caught at the operation that
    caused it, before a later one can mask it."""
    snapshot = reg.stack.snapshot()
    try:
        prop = reg.register("P1")
        model = PropertyModel(VALUE)
        _agree(reg, prop, model)
        for operation, number in operations:
            if operation == "apply":
                # Amounts around a fifth of the cap, so that both outcomes of a decision occur.
                amount = number % (CAP // 3) + 1
                model.pending[reg.apply(reg.bank_a, prop, amount)] = amount
            elif operation == "decide" and model.pending:
                pid = sorted(model.pending)[number % len(model.pending)]
                assert reg.registry.decide(reg.registrar, pid).reason_code == model.decide(pid)
            elif operation == "release" and model.active:
                pid, _ = model.active.pop(number % len(model.active))
                reg.registry.release(reg.bank_a, pid)
            elif operation == "seize":
                if model.seized:
                    reg.registry.unseize(reg.enforcer, prop, CASE)
                    assert model.unseize(CASE, "court") is None
                else:
                    reg.registry.seize(reg.enforcer, prop, CASE)
                    assert model.seize(CASE, "court") is None
            elif operation == "appraise":
                reg.registry.update_appraisal(reg.registrar, prop, number)
                model.value = number
            _agree(reg, prop, model)
    finally:
        reg.stack.revert(snapshot)


def _agree(reg: Registry, prop: bytes, model: PropertyModel) -> None:
    """The contract's title of ``prop`` is the model's: pledges by rank, secured total, headroom,
    seizure; and every pledge the model holds pending is pending on chain."""
    title = reg.registry.title(prop)
    assert [(p.pledge_id, p.rank, p.pledge.amount) for p in title.pledges] == [
        (pid, rank, amount) for rank, (pid, amount) in enumerate(model.active, start=1)
    ]
    assert title.property.secured_amount == model.secured
    assert title.headroom == model.headroom
    assert title.property.appraised_value == model.value
    assert (title.property.status is PropertyStatus.SEIZED) == model.seized
    assert title.property.seizures == len(model.seizures)
    for pid, amount in model.pending.items():
        pending = reg.registry.get_pledge(pid)
        assert (pending.status, pending.amount) == (PledgeStatus.PENDING, amount)
