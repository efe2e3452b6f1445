"""attestDeclaration: customs' attested value counts where lower; an attestation for another
exporter refuses the registration or counts zero.
"""

from __future__ import annotations

import pytest

from registry import errors
from registry.contracts.ledger import MAX_AMOUNT, Attestation, DeclarationState, Standing
from tests.conftest import Stack, fp, hx
from tests.contracts.ledger.conftest import EXPORT_DATE, OTHER_EXPORTER, limit
from tests.helpers import refused, register, violated
from tests.models.ledger import EXPORTER


def test_attested_value_counts_where_lower(any_stack: Stack) -> None:
    stack = any_stack
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    tx = stack.ledger.attest_declaration(
        stack.verifier.signer, fp("D1"), EXPORTER, 60_000, EXPORT_DATE
    )
    assert stack.ledger.events(tx, "DeclarationAttested") == [
        {
            "declaration": fp("D1"),
            "exporter": EXPORTER,
            "verifier": stack.verifier.signer.address,
            "value": 60_000,
            "exportDate": EXPORT_DATE,
        }
    ]
    assert stack.ledger.events(tx, "DeclarationCounted") == [
        {
            "declaration": fp("D1"),
            "id": rid,
            "index": 0,
            "standing": int(Standing.VERIFIED),
            "countedValue": 60_000,
        }
    ]
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.VERIFIED, 90_000, 60_000, limit(60_000), 0
    )
    assert stack.ledger.attestation(fp("D1")) == Attestation(EXPORTER, 60_000, EXPORT_DATE)
    assert stack.ledger.receivable(rid).cap == limit(60_000)
    assert stack.ledger.receivable(rid).declared_value == 90_000

    # A correction re-attests; above the declared value, the declared value counts.
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 120_000, EXPORT_DATE)
    assert stack.ledger.declaration(fp("D1")).counted_value == 90_000
    assert stack.ledger.receivable(rid).cap == limit(90_000)


def test_attestation_before_registration_counts_from_the_start(stack: Stack) -> None:
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 50_000, EXPORT_DATE)
    assert stack.ledger.declaration(fp("D1")).receivable is None
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 70_000))
    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.VERIFIED, 70_000, 50_000, limit(50_000), 0
    )


def test_declaration_attested_for_another_exporter_is_refused_at_registration(
    stack: Stack,
) -> None:
    stack.ledger.attest_declaration(
        stack.verifier.signer, fp("D1"), OTHER_EXPORTER, 90_000, EXPORT_DATE
    )
    error = refused(
        stack,
        errors.DeclarationExporterMismatch,
        "declaration-exporter-mismatch",
        lambda: register(stack, stack.bank_a.signer, "INV-1", ("D2", 5), ("D1", 90_000)),
    )
    assert error.details == {
        "declaration": hx(fp("D1")),
        "attestedExporter": hx(OTHER_EXPORTER),
        "exporter": hx(EXPORTER),
    }
    assert stack.ledger.receivable_of_declaration(fp("D2")) is None


def test_declaration_attested_for_another_exporter_after_registration_counts_zero(
    stack: Stack,
) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 60_000), ("D2", 50_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 30_000)  # all on D1
    stack.ledger.attest_declaration(
        stack.verifier.signer, fp("D1"), OTHER_EXPORTER, 60_000, EXPORT_DATE
    )

    assert stack.ledger.declaration(fp("D1")) == DeclarationState(
        rid, Standing.EXPORTER_MISMATCH, 60_000, 0, 0, 30_000
    )
    # D1 carries nothing more; the money drawn against it stays outstanding.
    assert stack.ledger.receivable(rid).cap == limit(50_000)
    assert stack.ledger.headroom(rid) == limit(50_000) - 30_000
    stack.ledger.finance(stack.bank_a.signer, rid, limit(50_000) - 30_000)
    assert stack.ledger.declaration(fp("D2")).outstanding == limit(50_000) - 30_000
    error = refused(
        stack,
        errors.FinancingExceedsCap,
        "financing-exceeds-cap",
        lambda: stack.ledger.finance(stack.bank_a.signer, rid, 1),
    )
    assert error.details == {"id": hx(rid), "amount": 1, "headroom": 0}


@pytest.mark.parametrize(
    ("declaration", "exporter", "value", "export_date", "rule"),
    [
        (bytes(32), EXPORTER, 1, EXPORT_DATE, "zero-fingerprint"),
        (fp("D1"), bytes(32), 1, EXPORT_DATE, "zero-fingerprint"),
        (fp("D1"), EXPORTER, 0, EXPORT_DATE, "zero-value"),
        (fp("D1"), EXPORTER, MAX_AMOUNT + 1, EXPORT_DATE, "amount-out-of-range"),
        (fp("D1"), EXPORTER, 1, 0, "export-date-out-of-range"),
        (fp("D1"), EXPORTER, 1, 2**63, "export-date-out-of-range"),
    ],
)
def test_malformed_attestations_revert(
    stack: Stack, declaration: bytes, exporter: bytes, value: int, export_date: int, rule: str
) -> None:
    violated(
        stack,
        rule,
        lambda: stack.ledger.attest_declaration(
            stack.verifier.signer, declaration, exporter, value, export_date
        ),
    )
