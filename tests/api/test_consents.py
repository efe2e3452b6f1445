"""Consent through the API: a clerk binds an enterprise's account, a bank asks for consent, the
enterprise signs the typed data in its wallet (eth-account here, as a wallet would), the bank
relays it and holds consent; a revocation ends it. Each refusal by its rule, nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account

from tests.api.test_api import EXPORTER, TestClient, assert_problem, client, key
from tests.conftest import Stack

__all__ = ["client"]

EXPIRY = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
UNBOUND = "91350100MA2YX7B91C"


def bind(client: TestClient, stack: Stack, account: str) -> Any:
    answer = client.post(
        "/v1/enterprises",
        json={"uscc": EXPORTER, "account": account},
        headers=key(stack, "Registry center"),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def ask(client: TestClient, stack: Stack, bank: str, path: str = "/v1/consents/requests") -> Any:
    body: dict[str, Any] = {"enterprise_uscc": EXPORTER, "scope": "credit-report"}
    if path.endswith("/requests"):
        body["expiry_date"] = EXPIRY
    answer = client.post(path, json=body, headers=key(stack, bank))
    assert answer.status_code == 200, answer.text
    return answer.json()


def signed(typed: Any, private_key: bytes) -> dict[str, Any]:
    signature = Account.sign_typed_data(private_key, full_message=typed).signature
    return {"message": typed["message"], "signature": "0x" + bytes(signature).hex()}


def status(client: TestClient, stack: Stack, bank: str) -> Any:
    params = {"enterprise_uscc": EXPORTER, "scope": "credit-report"}
    answer = client.get("/v1/consents/status", params=params, headers=key(stack, bank))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_enterprise_consents_and_revokes(client: TestClient, stack: Stack) -> None:
    enterprise = Account.create()
    bound = bind(client, stack, enterprise.address)
    assert bound["account"] == enterprise.address
    assert status(client, stack, "Bank A")["active"] is False

    typed = ask(client, stack, "Bank A")
    assert typed["primaryType"] == "Consent"
    assert typed["domain"]["verifyingContract"] == stack.consents.address
    relayed = client.post(
        "/v1/consents", json=signed(typed, enterprise.key), headers=key(stack, "Bank A")
    )
    assert relayed.status_code == 201, relayed.text
    assert relayed.json()["enterprise_id"] == bound["enterprise_id"]
    assert status(client, stack, "Bank A")["active"] is True
    assert status(client, stack, "Bank B")["active"] is False  # granted to Bank A only

    withdrawal = ask(client, stack, "Bank A", "/v1/consents/revocation-requests")
    revoked = client.post(
        "/v1/consents/revocations",
        json=signed(withdrawal, enterprise.key),
        headers=key(stack, "Bank A"),
    )
    assert revoked.status_code == 201, revoked.text
    assert status(client, stack, "Bank A")["active"] is False


def test_consent_refusals_name_their_rule(client: TestClient, stack: Stack) -> None:
    enterprise, stranger = Account.create(), Account.create()
    bank_a, bank_b = key(stack, "Bank A"), key(stack, "Bank B")
    assert_problem(
        client.post(
            "/v1/enterprises",
            json={"uscc": EXPORTER, "account": enterprise.address},
            headers=bank_a,
        ),
        403,
        "access-denied",
    )
    assert_problem(
        client.post(
            "/v1/enterprises",
            json={"uscc": EXPORTER, "account": "0x1234"},
            headers=key(stack, "Registry center"),
        ),
        422,
        "account-format",
        "account",
    )
    unbound = {"enterprise_uscc": UNBOUND, "scope": "credit-report", "expiry_date": EXPIRY}
    assert_problem(
        client.post("/v1/consents/requests", json=unbound, headers=bank_a),
        404,
        "enterprise-not-bound",
    )
    bind(client, stack, enterprise.address)
    typed = ask(client, stack, "Bank A")
    before = stack.tip()
    # Bank B cannot relay what names Bank A; nobody can relay what the enterprise did not sign.
    assert_problem(
        client.post("/v1/consents", json=signed(typed, enterprise.key), headers=bank_b),
        422,
        "consent-grantee",
        "message.granteeInstitution",
    )
    assert_problem(
        client.post("/v1/consents", json=signed(typed, stranger.key), headers=bank_a),
        409,
        "invalid-enterprise-signature",
    )
    assert stack.tip() == before
    once = signed(typed, enterprise.key)
    assert client.post("/v1/consents", json=once, headers=bank_a).status_code == 201
    after = stack.tip()
    assert_problem(
        client.post("/v1/consents", json=once, headers=bank_a), 409, "consent-nonce-used"
    )
    assert stack.tip() == after
    assert_problem(
        client.post("/v1/consents", json={**once, "signature": "0xzz"}, headers=bank_a),
        422,
        "signature-format",
        "signature",
    )
    other_scope = {**once, "message": {**once["message"], "scope": "0x" + "11" * 32}}
    assert_problem(
        client.post("/v1/consents", json=other_scope, headers=bank_a),
        422,
        "consent-scope",
        "message.scope",
    )
    no_expiry = {**once, "message": {**once["message"], "expiry": None}}
    assert_problem(
        client.post("/v1/consents", json=no_expiry, headers=bank_a),
        422,
        "message-field",
        "message.expiry",
    )
