"""isOverdue: from the first second of the day after maturity (UTC), by the block's time."""

from __future__ import annotations

from tests.conftest import Stack
from tests.helpers import register

DAY = 86_400


def test_overdue_from_the_first_second_of_the_day_after_maturity(stack: Stack) -> None:
    """Due on its maturity's day (UTC), overdue from 00:00:00 of the next, by the block's
    timestamp; a maturity with a time of day is due all that day too."""
    now = stack.chain.w3.eth.get_block("latest")["timestamp"]
    due = (now // DAY + 2) * DAY  # 00:00 UTC, two days ahead
    midnight = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000), maturity=due)
    noon = register(stack, stack.bank_a.signer, "INV-2", ("D2", 100_000), maturity=due + DAY // 2)
    unfinanced = register(stack, stack.bank_a.signer, "INV-3", ("D3", 100_000), maturity=due)
    for rid in (midnight, noon):
        stack.ledger.finance(stack.bank_a.signer, rid, 1_000)

    last_second_due = stack.mine_at(due + DAY - 1)
    first_second_after = stack.mine_at(due + DAY)
    for rid in (midnight, noon):
        assert not stack.ledger.is_overdue(rid, last_second_due)
        assert stack.ledger.is_overdue(rid, first_second_after)
    assert not stack.ledger.is_overdue(unfinanced, first_second_after)  # nothing outstanding
    stack.ledger.repay(stack.bank_a.signer, midnight, 1_000)
    assert not stack.ledger.is_overdue(midnight)
