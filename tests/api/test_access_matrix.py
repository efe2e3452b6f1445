"""Who may call what: every operation of the OpenAPI document x every role, plus no key, an unknown
key and a revoked key.

A caller without a working key gets 401 everywhere but the public routes. A key whose role the
operation is not for gets 403 ``access-denied`` before anything is read or sent. A key whose role
it is for gets past both: whatever its dummy request then meets (404, 409, 422, 200, 201), it is
never 401 or 403. The table below is the rule; the test fails if the document gains an operation
the table does not list, so a new route states who may call it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.services import Services
from registry.api_keys import revoke_api_keys
from tests.api.test_api import EXPORTER, TestClient, client, key, registration
from tests.conftest import Stack

__all__ = ["client"]

ID = "0x" + "ab" * 32
DECLARATION = "310120260000012345"
SOON = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()

ANY = frozenset({"lender", "registrar", "verifier", "enforcer", "operator", "admin"})
LENDER, REGISTRAR = frozenset({"lender"}), frozenset({"registrar"})
VERIFIER, ENFORCER = frozenset({"verifier"}), frozenset({"enforcer"})

PROPERTY = {
    "region_code": "330203",
    "certificate_number": "MATRIX-1",
    "appraised_value": 1_000,
    "currency": "CNY",
}
SIGNED = {
    "message": {
        "enterprise": ID,
        "granteeInstitution": ID,
        "scope": ID,
        "expiry": 10**10,
        "nonce": 1,
    },
    "signature": "0x" + "11" * 65,
}

# (method, path, who may call it, body, query)
MATRIX: list[tuple[str, str, frozenset[str], Any, dict[str, Any]]] = [
    (
        "post",
        "/v1/receivables/check",
        LENDER,
        {
            "exporter_uscc": EXPORTER,
            "invoice_number": "M-1",
            "currency": "USD",
            "declaration_numbers": [DECLARATION],
        },
        {},
    ),
    ("post", "/v1/receivables", LENDER, registration(invoice_number="M-2"), {}),
    ("post", "/v1/receivables/unsigned", LENDER, registration(invoice_number="M-3"), {}),
    ("get", "/v1/receivables", LENDER, None, {}),
    ("get", "/v1/receivables/{receivable_id}", ANY, None, {}),
    ("get", "/v1/receivables/{receivable_id}/financings", LENDER, None, {}),
    ("post", "/v1/receivables/{receivable_id}/financings", LENDER, {"amount": 1}, {}),
    ("post", "/v1/receivables/{receivable_id}/financings/unsigned", LENDER, {"amount": 1}, {}),
    ("post", "/v1/receivables/{receivable_id}/repayments", LENDER, {"amount": 1}, {}),
    ("post", "/v1/receivables/{receivable_id}/repayments/unsigned", LENDER, {"amount": 1}, {}),
    ("post", "/v1/receivables/{receivable_id}/cancellation", LENDER, None, {}),
    (
        "post",
        "/v1/declarations/{declaration_number}/attestation",
        VERIFIER,
        {"exporter_uscc": EXPORTER, "value": 1, "export_date": "2026-01-05"},
        {},
    ),
    ("post", "/v1/properties", REGISTRAR, PROPERTY, {}),
    (
        "post",
        "/v1/properties/lookup",
        ANY,
        {"region_code": "330203", "certificate_number": "MATRIX-0"},
        {},
    ),
    ("put", "/v1/properties/{property_id}/appraisal", REGISTRAR, {"appraised_value": 1}, {}),
    ("get", "/v1/properties/{property_id}/title", ANY, None, {}),
    (
        "post",
        "/v1/properties/{property_id}/pledges",
        LENDER,
        {"amount": 1, "currency": "CNY", "maturity_date": SOON},
        {},
    ),
    ("post", "/v1/properties/{property_id}/seizures", ENFORCER, {"case_number": "C-1"}, {}),
    ("post", "/v1/properties/{property_id}/seizures/lift", ENFORCER, {"case_number": "C-1"}, {}),
    ("get", "/v1/pledges/{pledge_id}", ANY, None, {}),
    ("post", "/v1/pledges/{pledge_id}/approval", REGISTRAR, None, {}),
    ("post", "/v1/pledges/{pledge_id}/rejection", REGISTRAR, {"reason_code": 100}, {}),
    ("post", "/v1/pledges/{pledge_id}/decision", REGISTRAR, None, {}),
    ("post", "/v1/pledges/{pledge_id}/release", LENDER, None, {}),
    ("post", "/v1/enterprises", REGISTRAR, {"uscc": EXPORTER, "account": "0x" + "cd" * 20}, {}),
    (
        "post",
        "/v1/consents/requests",
        LENDER,
        {"enterprise_uscc": EXPORTER, "scope": "credit-report", "expiry_date": SOON},
        {},
    ),
    (
        "post",
        "/v1/consents/revocation-requests",
        LENDER,
        {"enterprise_uscc": EXPORTER, "scope": "credit-report"},
        {},
    ),
    ("post", "/v1/consents", LENDER, SIGNED, {}),
    ("post", "/v1/consents/revocations", LENDER, SIGNED, {}),
    (
        "get",
        "/v1/consents/status",
        LENDER,
        None,
        {"enterprise_uscc": EXPORTER, "scope": "credit-report"},
    ),
    ("get", "/v1/transactions/{tx_hash}", ANY, None, {}),
]

CALLERS = {
    "lender": "Bank A",
    "registrar": "Registry center",
    "verifier": "Customs",
    "enforcer": "Court",
    "operator": "API operator",
    "admin": "Consortium admin",
}
PUBLIC = {("get", "/health"), ("get", "/v1/index/status")}


PATH_VALUES = {
    "receivable_id": ID,
    "property_id": ID,
    "pledge_id": ID,
    "tx_hash": ID,
    "declaration_number": DECLARATION,
}


def _call(
    client: TestClient,
    row: tuple[str, str, frozenset[str], Any, dict[str, Any]],
    headers: dict[str, str],
) -> Any:
    method, path, _, body, query = row
    url = path.format(**PATH_VALUES)
    return client.request(method, url, json=body, params=query, headers=headers)


def test_the_matrix_lists_every_operation(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operations = {
        (method, path) for path, methods in document["paths"].items() for method in methods
    }
    listed = {(method, path) for method, path, *_ in MATRIX}
    assert operations - PUBLIC == listed, sorted(operations ^ listed)


def test_without_a_working_key_every_operation_is_401(
    client: TestClient, stack: Stack, services: Services
) -> None:
    revoked = key(stack, "Bank B")
    revoke_api_keys(services.engine, "Bank B")
    for headers in ({}, {"X-API-Key": "crk_" + "0" * 40}, revoked):
        for row in MATRIX:
            response = _call(client, row, headers)
            assert response.status_code == 401, (row[:2], headers.keys(), response.text)


@pytest.mark.parametrize("role", sorted(CALLERS))
def test_each_role_reaches_its_operations_and_no_other(
    client: TestClient, stack: Stack, role: str
) -> None:
    headers = key(stack, CALLERS[role])
    for row in MATRIX:
        response = _call(client, row, headers)
        if role in row[2]:
            assert response.status_code not in (401, 403), (role, row[:2], response.text)
        else:
            assert response.status_code == 403, (role, row[:2], response.text)
            assert response.json()["rule"] == "access-denied", (role, row[:2])
