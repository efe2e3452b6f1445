"""The contract against the reference model (tests/models/pledges.py) under random
sequences of applications, decisions, releases, seizures and appraisals.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.contracts.pledges import PledgeStatus, PropertyStatus
from tests.contracts.pledges.conftest import CAP, CASE, VALUE, Registry
from tests.models.pledges import PropertyModel

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
