"""PledgeRegistry's rules, exercised through the typed binding against real nodes: what the pledge
registry's test modules share.

The tests act on the stack's own registry (the snapshot taken around each test undoes what it
did). Each refusal is checked for its decoded domain error, its rule, and for leaving the chain
unchanged (no block mined, the head's hash as before): the binding estimates first, so a refused
operation sends nothing. The exception is ``decidePledge``, whose point is to record the refusal:
there, exactly one block is mined and the rejection is the only change.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_utils.crypto import keccak

from registry.chain.client import Signer
from registry.contracts.pledges import POLICY_DEFAULT_MAX_LTV_BPS, PledgeRegistry
from tests.conftest import Stack, fp
from tests.helpers import MATURITY, Deployed

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
