"""setAdvanceRates: the verified and unverified rates, and the cap every next drawdown is
judged against.
"""

from __future__ import annotations

import pydantic
import pytest

from registry import errors
from registry.contracts.deploy import deploy
from registry.contracts.ledger import AdvanceRates, ReceivableLedger
from registry.settings import Settings
from tests.conftest import ADVANCE_RATE_BPS, Stack, fp, hx
from tests.contracts.ledger.conftest import EXPORT_DATE
from tests.helpers import refused, register, violated
from tests.models.ledger import EXPORTER


def test_admin_sets_advance_rates_for_every_drawdown(stack: Stack) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert stack.ledger.advance_rates() == AdvanceRates(ADVANCE_RATE_BPS, ADVANCE_RATE_BPS)
    tx = stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 5_000)
    assert stack.ledger.events(tx, "AdvanceRatesSet") == [
        {"verifiedBps": 9_000, "unverifiedBps": 5_000, "admin": stack.admin.signer.address}
    ]
    assert stack.ledger.advance_rates() == AdvanceRates(9_000, 5_000)
    # The policy acts on the next drawdown of an existing receivable: its unverified declaration
    # now carries 50%.
    assert stack.ledger.receivable(rid).cap == 50_000
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 50_001),
    )
    assert error.details == {"id": hx(rid), "amount": 50_001, "headroom": 50_000}
    stack.ledger.finance(stack.bank_a.signer, rid, 50_000)

    # A cut below what is outstanding calls nothing back; it stops new drawdowns.
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 4_000)
    assert (stack.ledger.receivable(rid).cap, stack.ledger.headroom(rid)) == (40_000, 0)
    assert stack.ledger.receivable(rid).outstanding == 50_000


def test_a_default_deployment_has_a_higher_verified_rate(stack: Stack) -> None:
    """SPEC's shape out of the box: attested declarations finance at a higher rate than others
    (both settable), so an unattested one is never financed as if customs had vouched for it."""
    settings = Settings(_env_file=None)
    rates = AdvanceRates(settings.verified_advance_rate_bps, settings.unverified_advance_rate_bps)
    assert rates == AdvanceRates(9_000, 5_000)
    deployment = deploy(stack.chain, stack.secrets.deployer, rates)
    fresh = ReceivableLedger(stack.chain, deployment.address_of(ReceivableLedger.NAME))
    assert fresh.advance_rates() == rates
    custom = Settings(
        _env_file=None, verified_advance_rate_bps=8_500, unverified_advance_rate_bps=0
    )
    assert (custom.verified_advance_rate_bps, custom.unverified_advance_rate_bps) == (8_500, 0)
    with pytest.raises(pydantic.ValidationError, match="at most verified_advance_rate_bps"):
        Settings(_env_file=None, verified_advance_rate_bps=5_000, unverified_advance_rate_bps=6_000)


@pytest.mark.parametrize(
    ("verified", "unverified"), [(10_001, 0), (5_000, 5_001), (10_001, 10_001)]
)
def test_advance_rates_out_of_range(stack: Stack, verified: int, unverified: int) -> None:
    details = violated(
        stack,
        "advance-rates-out-of-range",
        lambda: stack.ledger.set_advance_rates(stack.admin.signer, verified, unverified),
    )
    assert details == {"verifiedBps": verified, "unverifiedBps": unverified}


def test_verified_and_unverified_rates(stack: Stack) -> None:
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 5_000)
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 100_000, EXPORT_DATE)
    rid = register(
        stack, stack.bank_a.signer, "INV-1", ("D1", 100_000), ("D2", 100_000), face_value=300_000
    )
    assert stack.ledger.declaration(fp("D1")).limit == 90_000
    assert stack.ledger.declaration(fp("D2")).limit == 50_000
    # min(300,000 x 90%, 90,000 + 50,000)
    assert stack.ledger.receivable(rid).cap == 140_000

    # Attesting the second declaration raises it to the verified rate at once.
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D2"), EXPORTER, 100_000, EXPORT_DATE)
    assert stack.ledger.receivable(rid).cap == 180_000

    # Face value x the verified rate still bounds the whole invoice.
    stack.ledger.set_advance_rates(stack.admin.signer, 5_000, 5_000)
    assert stack.ledger.receivable(rid).cap == 100_000


def test_each_drawdown_is_judged_against_the_cap_as_it_is_now(stack: Stack) -> None:
    """The receivable keeps its cap with the policy it was computed under, so that a drawdown
    under an unchanged policy reads only the declarations it fills. A new policy, an attestation
    and a return to an earlier policy must all still move the cap of the very next drawdown."""
    ledger, bank, admin = stack.ledger, stack.bank_a.signer, stack.admin.signer
    ledger.set_advance_rates(admin, 9_000, 5_000)
    rid = register(stack, bank, "INV-1", ("D1", 60_000), ("D2", 40_000))

    def judged(cap: int, draw: int) -> None:
        """The cap is ``cap`` to the unit, before and after a drawdown of ``draw``."""
        for _ in range(2):
            room = cap - ledger.receivable(rid).outstanding
            assert (ledger.receivable(rid).cap, ledger.headroom(rid)) == (cap, room)
            over = ledger.try_finance(bank, rid, room + 1)
            assert over.refusal is not None
            assert over.refusal.headroom == room
            assert ledger.try_finance(bank, rid, draw).accepted

    judged(30_000 + 20_000, draw=10_000)  # both unverified, at 50%
    ledger.set_advance_rates(admin, 9_000, 6_000)
    judged(36_000 + 24_000, draw=5_000)
    ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 30_000, EXPORT_DATE)
    judged(27_000 + 24_000, draw=1_000)  # D1 verified at 90% of its attested 30,000
    ledger.set_advance_rates(admin, 9_000, 5_000)
    judged(27_000 + 20_000, draw=1_000)
    # A cut below the 34,000 outstanding: nothing more to draw.
    ledger.set_advance_rates(admin, 4_000, 4_000)
    assert (ledger.receivable(rid).cap, ledger.headroom(rid)) == (12_000 + 16_000, 0)
    refusal = ledger.try_finance(bank, rid, 1).refusal
    assert refusal is not None
    assert refusal.headroom == 0


def test_no_financing_on_unverified_declarations_at_rate_zero(stack: Stack) -> None:
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 0)
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 100_000))
    assert (stack.ledger.receivable(rid).cap, stack.ledger.headroom(rid)) == (0, 0)
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1),
    )
    assert error.details["headroom"] == 0
