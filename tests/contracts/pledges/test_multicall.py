"""multicall: batches are all or nothing; decidePledge in a batch records each outcome."""

from __future__ import annotations

from registry.contracts.pledges import PropertyStatus
from tests.conftest import fp
from tests.contracts.pledges.conftest import CAP, VALUE, Registry


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
