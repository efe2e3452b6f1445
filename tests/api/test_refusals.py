"""Ledger refusals through the API that its other tests do not reach: repaying an unknown, an
unfinanced, a cancelled or a settled receivable; financing a cancelled one; registering on a
customs declaration attested for another exporter.

Each is answered with its problem (status, rule, the field where the rule names one) and leaves the
chain as it was: no block at all, unless the refusal is one the ledger records (an attempt to
finance or register against its rules), and then exactly one block on top of the head, whose only
transaction's only log is that refusal, naming the bank, the document and the rule.

On SQLite and on PostgreSQL, like the other API tests whose answers read the index database; every
response is scanned for the stack's secrets.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import sqlalchemy as sa
from hexbytes import HexBytes
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.services import Services
from registry.contracts.ledger import ReceivableStatus, RefusalReason
from registry.fingerprint import CustomsDeclaration, Enterprise
from registry.settings import Settings
from tests.api.test_api import (
    DECL_1,
    DECL_2,
    assert_problem,
    check_body,
    key,
    register,
    registration,
    secrets_of,
)
from tests.conftest import Stack, indexing

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

OTHER_EXPORTER = "91110000600037341L"
UNKNOWN = "0x" + "00" * 31 + "02"


@pytest.fixture
def client(stack: Stack, engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The API on the stack's own connection (the test's direct chain writes and the API's share
    the signers' nonces), its every response scanned for secrets afterwards."""
    bodies: list[str] = []

    def record(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.text + repr(dict(response.headers)))

    services = Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    app = create_app(Settings(state_dir=tmp_path), services)
    with indexing(stack, engine), TestClient(app) as test_client:
        test_client.event_hooks = {"request": [], "response": [record]}
        yield test_client

    assert bodies, "the test made no request"
    for body in bodies:
        for secret in secrets_of(stack.secrets):
            assert secret not in body


def post(client: TestClient, stack: Stack, path: str, amount: int) -> httpx.Response:
    return client.post(path, json={"amount": amount}, headers=key(stack, "Bank A"))


def status_of(client: TestClient, stack: Stack, rid: str) -> tuple[str, int]:
    body = client.get(f"/v1/receivables/{rid}", headers=key(stack, "Bank A")).json()
    return body["status"], body["outstanding"]


def cancel(stack: Stack, rid: str) -> None:
    """The registering bank cancels on chain: the API has no route for it."""
    stack.ledger.cancel(stack.bank_a.signer, bytes.fromhex(rid[2:]))


def assert_one_refusal_recorded(
    stack: Stack, tip: tuple[int, str], event: str, **expected: Any
) -> None:
    """Exactly one block was mined on top of ``tip``, holding one transaction whose only log is
    the ledger's ``event`` with the ``expected`` arguments."""
    number, block_hash = tip
    assert stack.chain.block_number() == number + 1
    block = stack.chain.w3.eth.get_block(number + 1)
    assert block["parentHash"].to_0x_hex() == block_hash
    (tx_hash,) = block["transactions"]
    receipt = stack.chain.w3.eth.get_transaction_receipt(cast(HexBytes, tx_hash))
    (log,) = receipt["logs"]
    args = getattr(stack.ledger.contract.events, event)().process_log(log)["args"]
    assert {name: args[name] for name in expected} == expected


# --- repayments nobody may record ---------------------------------------------------------------


def test_repaying_an_unknown_receivable_is_404_and_sends_nothing(
    client: TestClient, stack: Stack
) -> None:
    tip = stack.tip()

    response = post(client, stack, f"/v1/receivables/{UNKNOWN}/repayments", 1)

    problem = assert_problem(response, 404, "receivable-not-found")
    assert problem["details"] == {"id": UNKNOWN}
    assert stack.tip() == tip


def _unfinanced(client: TestClient, stack: Stack) -> str:
    return register(client, stack)


def _cancelled(client: TestClient, stack: Stack) -> str:
    rid = register(client, stack)
    cancel(stack, rid)
    return rid


def _settled(client: TestClient, stack: Stack) -> str:
    rid = register(client, stack)
    assert post(client, stack, f"/v1/receivables/{rid}/financings", 10_000).status_code == 201
    assert post(client, stack, f"/v1/receivables/{rid}/repayments", 10_000).status_code == 201
    return rid


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (_unfinanced, ReceivableStatus.REGISTERED),
        (_cancelled, ReceivableStatus.CANCELLED),
        (_settled, ReceivableStatus.SETTLED),
    ],
    ids=["unfinanced", "cancelled", "settled"],
)
def test_repaying_a_receivable_with_nothing_outstanding_is_409_and_sends_nothing(
    client: TestClient,
    stack: Stack,
    make: Callable[[TestClient, Stack], str],
    status: ReceivableStatus,
) -> None:
    rid = make(client, stack)
    before = status_of(client, stack, rid)
    assert before == (status.name.lower(), 0)
    tip = stack.tip()

    response = post(client, stack, f"/v1/receivables/{rid}/repayments", 1)

    problem = assert_problem(response, 409, "receivable-not-active")
    assert problem["details"] == {"id": rid, "status": int(status)}
    assert stack.tip() == tip
    assert status_of(client, stack, rid) == before


# --- financing a cancelled receivable -----------------------------------------------------------


def test_financing_a_cancelled_receivable_is_409_and_the_attempt_is_recorded(
    client: TestClient, stack: Stack
) -> None:
    rid = _cancelled(client, stack)
    tip = stack.tip()

    response = post(client, stack, f"/v1/receivables/{rid}/financings", 10_000)

    problem = assert_problem(response, 409, "receivable-not-active")
    assert problem["details"] == {"id": rid, "status": int(ReceivableStatus.CANCELLED)}
    assert_one_refusal_recorded(
        stack,
        tip,
        "FinancingRefused",
        id=bytes.fromhex(rid[2:]),
        account=stack.bank_a.signer.address,
        reason=RefusalReason.RECEIVABLE_NOT_ACTIVE,
        amount=10_000,
    )
    assert status_of(client, stack, rid) == ("cancelled", 0)


# --- a declaration attested for another exporter ------------------------------------------------


def test_a_declaration_attested_for_another_exporter_is_409_naming_it_and_recorded(
    client: TestClient, stack: Stack
) -> None:
    keyring = stack.secrets.keyring
    other = keyring.fingerprint(Enterprise(OTHER_EXPORTER)).digest
    declaration = keyring.fingerprint(CustomsDeclaration(DECL_2)).digest
    stack.ledger.attest_declaration(
        stack.verifier.signer, declaration, other, 50_000, 1_700_000_000
    )
    tip = stack.tip()

    response = client.post("/v1/receivables", json=registration(), headers=key(stack, "Bank A"))

    problem = assert_problem(
        response, 409, "declaration-exporter-mismatch", field="declarations.1.number"
    )
    assert problem["details"]["declaration"] == "0x" + declaration.hex()
    assert problem["details"]["attestedExporter"] == "0x" + other.hex()
    assert "field" not in problem["details"]
    assert_one_refusal_recorded(
        stack,
        tip,
        "RegistrationRefused",
        document=declaration,
        account=stack.bank_a.signer.address,
        reason=RefusalReason.DECLARATION_EXPORTER_MISMATCH,
        conflict=other,
    )
    # Nothing of the registration exists: the invoice and both declarations are still unknown.
    check = client.post(
        "/v1/receivables/check",
        json=check_body("INV-2026-001", DECL_1, DECL_2),
        headers=key(stack, "Bank A"),
    ).json()
    assert check["status"] == "unknown"
    assert [d["status"] for d in check["declarations"]] == ["unknown", "unknown"]
