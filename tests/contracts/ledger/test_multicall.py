"""multicall: batched drawdowns amortize the base cost; a failing call reverts the batch."""

from __future__ import annotations

from registry import errors
from registry.contracts.ledger import ReceivableStatus
from tests.conftest import Stack, fp, hx
from tests.helpers import MATURITY, refused
from tests.models.ledger import EXPORTER


def test_batched_financing_costs_under_40000_gas_each(stack: Stack) -> None:
    """Multicall amortizes the base cost: 100 drawdowns on 100 receivables in one transaction."""
    ledger, bank = stack.ledger, stack.bank_a.signer
    registrations = [
        ledger.call_data(
            "registerReceivable",
            (fp(f"B{i}"), EXPORTER, 1, 100_000, b"USD", MATURITY),
            [(fp(f"BD{i}"), 90_000)],
            [],
        )
        for i in range(100)
    ]
    ledger.multicall(bank, registrations)
    drawdowns = [ledger.call_data("finance", fp(f"B{i}"), 10_000) for i in range(100)]
    batch = ledger.multicall(bank, drawdowns)
    assert batch.gas_used / 100 < 40_000
    assert ledger.receivable(fp("B99")).outstanding == 10_000


def test_a_failing_call_reverts_the_whole_batch(stack: Stack) -> None:
    ledger, bank = stack.ledger, stack.bank_a.signer
    calls = [
        ledger.call_data(
            "registerReceivable",
            (fp("INV-1"), EXPORTER, 1, 100_000, b"USD", MATURITY),
            [(fp("D1"), 9)],
            [],
        ),
        ledger.call_data("finance", fp("INV-1"), 10),  # beyond the cap of 7
    ]
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: ledger.multicall(bank, calls),
    )
    # The refusal is the second call's, judged after the first within the same transaction.
    assert error.details == {"id": hx(fp("INV-1")), "amount": 10, "headroom": 7}
    assert ledger.receivable(fp("INV-1")).status is ReceivableStatus.NONE
