"""The views: unknown properties and pledges, and a title as of a past block."""

from __future__ import annotations

from registry.contracts.pledges import PledgeStatus, PropertyStatus
from tests.conftest import fp
from tests.contracts.pledges.conftest import Registry


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
