"""The rest of the receivables' life through the API: customs attests a declaration (and the
receivable's cap follows at once), a bank cancels a receivable nothing is drawn on (and its
declarations may back another invoice); each refusal as a problem naming its rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.test_api import DECL_1, EXPORTER, TestClient, assert_problem, client, key, register
from tests.conftest import Stack

__all__ = ["client"]

TODAY = datetime.now(UTC).date()


def attest(client: TestClient, stack: Stack, number: str, **changes: object) -> object:
    body = {"exporter_uscc": EXPORTER, "value": 40_000, "export_date": str(TODAY - timedelta(10))}
    return client.post(
        f"/v1/declarations/{number}/attestation",
        json=body | changes,
        headers=key(stack, "Customs"),
    )


def test_customs_attests_and_the_cap_follows(client: TestClient, stack: Stack) -> None:
    receivable_id = register(client, stack)
    url = f"/v1/receivables/{receivable_id}"
    before = client.get(url, headers=key(stack, "Bank A")).json()
    assert before["cap"] == 80_000  # 100,000 face at 80%, under 110,000 declared at 80%

    answer = attest(client, stack, DECL_1)
    assert answer.status_code == 201, answer.text
    attested = answer.json()
    assert (attested["declaration_number"], attested["value"]) == (DECL_1, 40_000)
    # Counted at 40,000 instead of the 60,000 declared: (40,000 + 50,000) x 80%.
    after = client.get(url, headers=key(stack, "Bank A")).json()
    assert after["cap"] == 72_000
    chain = stack.ledger.receivable(bytes.fromhex(receivable_id[2:]))
    assert chain.cap == 72_000


def test_attestations_are_customs_alone_and_checked(client: TestClient, stack: Stack) -> None:
    register(client, stack)
    before = stack.tip()
    refused = client.post(
        f"/v1/declarations/{DECL_1}/attestation",
        json={"exporter_uscc": EXPORTER, "value": 1, "export_date": str(TODAY)},
        headers=key(stack, "Bank A"),
    )
    assert_problem(refused, 403, "access-denied")
    future = attest(client, stack, DECL_1, export_date=str(TODAY + timedelta(days=2)))
    assert_problem(future, 422, "export-date-in-future", "export_date")
    assert_problem(attest(client, stack, "12345"), 422, "declaration-number-format")
    assert stack.tip() == before


def test_a_bank_cancels_what_nothing_is_drawn_on(client: TestClient, stack: Stack) -> None:
    receivable_id = register(client, stack)
    bank_a, bank_b = key(stack, "Bank A"), key(stack, "Bank B")
    before = stack.tip()
    assert_problem(
        client.post(f"/v1/receivables/{receivable_id}/cancellation", headers=bank_b),
        409,
        "receivable-not-cancellable",
    )
    assert stack.tip() == before
    cancelled = client.post(f"/v1/receivables/{receivable_id}/cancellation", headers=bank_a)
    assert cancelled.status_code == 201, cancelled.text
    assert cancelled.json()["receivable_id"] == receivable_id
    assert client.get(f"/v1/receivables/{receivable_id}", headers=bank_a).json()["status"] == (
        "cancelled"
    )
    # The declarations are free again: another invoice may rest on them.
    register(client, stack, "Bank B", invoice_number="INV-2026-002")

    financed = register(
        client,
        stack,
        invoice_number="INV-2026-003",
        declarations=[{"number": "310120260000099999", "value": 10_000}],
    )
    drawn = client.post(
        f"/v1/receivables/{financed}/financings", json={"amount": 1_000}, headers=bank_a
    )
    assert drawn.status_code == 201, drawn.text
    assert_problem(
        client.post(f"/v1/receivables/{financed}/cancellation", headers=bank_a),
        409,
        "receivable-not-cancellable",
    )
