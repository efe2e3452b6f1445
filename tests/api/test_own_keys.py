"""A bank that keeps its own keys (an HSM, a wallet): the API holds its API key and account but
no signing key. It asks a write's ``/unsigned`` twin for the transaction, signs it itself, and
sends the write again with it in the ``Signed-Transaction`` header; the API relays it only if it
is that write's transaction, and answers as for any write (once the index holds it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.app import create_app
from api.services import Services
from registry.db import make_engine
from registry.settings import Settings
from tests.api.test_api import TestClient, assert_problem, key, registration
from tests.conftest import Stack, indexing
from tests.helpers import without_signing_key

SIGNED = "Signed-Transaction"


@pytest.fixture
def client(stack: Stack, sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The API as a bank that signs itself sees it: no signing key for Bank A."""
    secrets = without_signing_key(stack, "Bank A")
    engine = make_engine(sqlite_url)
    services = Services.build(engine, stack.chain, stack.deployment, secrets, write_index_timeout=5)
    app = create_app(Settings(state_dir=tmp_path), services)
    with indexing(stack, engine), TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def bank_key(stack: Stack) -> LocalAccount:
    """Bank A's key, as its HSM holds it (the dev stack generated it; the API never sees it)."""
    account: LocalAccount = Account.from_key(
        stack.secrets.institution("Bank A").signer.private_key_hex
    )
    return account


def signed(client: TestClient, stack: Stack, path: str, body: dict[str, Any]) -> str:
    unsigned = client.post(f"{path}/unsigned", json=body, headers=key(stack, "Bank A"))
    assert unsigned.status_code == 200, unsigned.text
    tx = unsigned.json()
    assert tx["sender"] == stack.bank_a.signer.address
    fields = {
        "to": tx["to"],
        "data": tx["data"],
        "value": tx["value"],
        "gas": tx["gas"],
        "nonce": tx["nonce"],
        "chainId": tx["chain_id"],
        "maxFeePerGas": tx["max_fee_per_gas"],
        "maxPriorityFeePerGas": tx["max_priority_fee_per_gas"],
    }
    return "0x" + bytes(bank_key(stack).sign_transaction(fields).raw_transaction).hex()


def test_a_bank_registers_and_finances_with_transactions_it_signed(
    client: TestClient, stack: Stack
) -> None:
    body = registration()
    raw = signed(client, stack, "/v1/receivables", body)
    registered = client.post(
        "/v1/receivables", json=body, headers=key(stack, "Bank A") | {SIGNED: raw}
    )
    assert registered.status_code == 201, registered.text
    receivable = registered.json()["receivable_id"]

    path = f"/v1/receivables/{receivable}/financings"
    raw = signed(client, stack, path, {"amount": 30_000})
    financed = client.post(
        path, json={"amount": 30_000}, headers=key(stack, "Bank A") | {SIGNED: raw}
    )
    assert financed.status_code == 201, financed.text
    assert financed.json()["receivable"]["outstanding"] == 30_000
    # The index holds it already: the next read agrees (read your writes).
    read = client.get(f"/v1/receivables/{receivable}", headers=key(stack, "Bank A"))
    assert read.json()["outstanding"] == 30_000
    assert read.json()["financier"] == stack.bank_a.signer.address


def test_a_signed_transaction_for_another_request_is_refused_and_not_sent(
    client: TestClient, stack: Stack
) -> None:
    body = registration()
    raw = signed(client, stack, "/v1/receivables", registration(invoice_number="INV-OTHER"))
    tip = stack.tip()

    response = client.post(
        "/v1/receivables", json=body, headers=key(stack, "Bank A") | {SIGNED: raw}
    )

    problem = assert_problem(response, 422, "signed-transaction-mismatch", field=f"header.{SIGNED}")
    assert "data is not this request's" in problem["detail"]
    assert stack.tip() == tip


def test_a_write_without_a_signed_transaction_says_how_to_get_one(
    client: TestClient, stack: Stack
) -> None:
    response = client.post("/v1/receivables", json=registration(), headers=key(stack, "Bank A"))
    problem = assert_problem(response, 403, "access-denied")
    assert "ask for the transaction unsigned" in problem["detail"]


@pytest.mark.parametrize("value", ["0x", "0xabc", "deadbeef", "0x" + "zz" * 10])
def test_a_header_that_is_no_hex_is_refused_by_its_pattern(
    client: TestClient, stack: Stack, value: str
) -> None:
    response = client.post(
        "/v1/receivables", json=registration(), headers=key(stack, "Bank A") | {SIGNED: value}
    )
    assert_problem(response, 422, "string-pattern-mismatch", field=f"header.{SIGNED}")


def test_an_unsigned_transaction_a_rule_refuses_already_is_refused(
    client: TestClient, stack: Stack
) -> None:
    """The chain's rule answers at estimation, before there is anything to sign: financing a
    receivable nobody registered."""
    tip = stack.tip()
    response = client.post(
        "/v1/receivables/0x" + "ab" * 32 + "/financings/unsigned",
        json={"amount": 1},
        headers=key(stack, "Bank A"),
    )
    problem = assert_problem(response, 404, "receivable-not-found")
    assert problem["details"] == {"id": "0x" + "ab" * 32}
    assert stack.tip() == tip


def test_a_refusal_before_signing_is_not_the_keys_answer(client: TestClient, stack: Stack) -> None:
    """Sent first without the signed transaction, then with one signed for another request, then
    as asked, under one Idempotency-Key: the two refusals came before anything was signed, so the
    retry is carried out, not answered with a stored refusal."""
    body = registration()
    headers = key(stack, "Bank A") | {"Idempotency-Key": "own-key-retry"}

    unsigned = client.post("/v1/receivables", json=body, headers=headers)
    assert_problem(unsigned, 403, "access-denied")
    wrong = signed(client, stack, "/v1/receivables", registration(invoice_number="INV-OTHER"))
    mismatch = client.post("/v1/receivables", json=body, headers=headers | {SIGNED: wrong})
    assert_problem(mismatch, 422, "signed-transaction-mismatch", field=f"header.{SIGNED}")

    right = signed(client, stack, "/v1/receivables", body)
    registered = client.post("/v1/receivables", json=body, headers=headers | {SIGNED: right})
    assert registered.status_code == 201, registered.text
    assert "Idempotent-Replayed" not in registered.headers
