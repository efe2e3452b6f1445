"""rejectPledge: the clerk rejects a pending pledge with a reason code of its own."""

from __future__ import annotations

from registry.contracts.pledges import PledgeStatus
from tests.conftest import fp
from tests.contracts.pledges.conftest import CAP, Registry


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
