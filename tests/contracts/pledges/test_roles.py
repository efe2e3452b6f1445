"""The pledge registry's roles: each function refused to the roles without it and effective
for those with it; grant, revoke and renounce as in OpenZeppelin's AccessControl.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_utils.crypto import keccak

from registry import errors
from registry.chain.client import Signer, TxResult
from registry.contracts.pledges import PledgeStatus, PropertyStatus, pledge_id
from registry.contracts.roles import ENFORCER_ROLE, LENDER_ROLE, REGISTRAR_ROLE
from tests.conftest import fp, hx
from tests.contracts.pledges.conftest import CASE, VALUE, Registry
from tests.helpers import MATURITY

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
    # A lender of another institution is refused by a rule, not for its role: test_release.py.
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
