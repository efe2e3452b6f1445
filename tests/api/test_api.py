"""The HTTP API end to end: FastAPI's TestClient against the real dev chain and a SQLite index.

Every refusal is checked for its RFC 9457 problem document (type, rule, field) and, where it could
have written, for leaving the chain as it was (no block mined). Every response of every test here is
scanned for the API keys and private keys of the stack's secrets: none may ever appear.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import sqlalchemy as sa
from eth_typing import HexStr
from eth_utils.abi import event_abi_to_log_topic
from hexbytes import HexBytes
from rich.console import Console
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from api.services import Services
from creditreg.demo import run_demo
from registry.api_keys import Principal, lookup, store_api_keys
from registry.chain.client import Chain
from registry.contracts.ledger import ReceivableLedger
from registry.contracts.roles import Role
from registry.credentials import DevSecrets
from registry.db import create_schema, make_engine
from registry.db.schema import api_keys
from registry.errors import ConfigurationError
from registry.indexer import CURSOR_NAME, Cursor, write_cursor
from registry.keystore import Keystores
from registry.receivables import MAX_DECLARATIONS
from registry.settings import Settings
from tests.conftest import ADVANCE_RATE_BPS, Stack, indexing
from tests.keystores import cheap_keystores
from tests.serving import serving

# Starlette now prefers the httpx2 package for its TestClient and warns once, at import, when it
# runs on httpx; the warning is about our test dependencies, not about the code under test, and the
# suite turns warnings into errors.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

EXPORTER = "91350100M000100Y43"
DECL_1 = "310120260000012345"
DECL_2 = "310120260000067890"
FACE = 100_000
CAP = FACE * ADVANCE_RATE_BPS // 10_000
MATURITY = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()


def secrets_of(secrets: DevSecrets) -> list[str]:
    """Every secret string of the stack, in the spellings a leak could take."""
    keys = [secrets.deployer.private_key_hex]
    for institution in secrets.institutions:
        keys += [institution.api_key, institution.signer.private_key_hex]
    values = list(keys) + [key.removeprefix("0x") for key in keys if key.startswith("0x")]
    fingerprint_keys = secrets.keyring.to_mapping()["keys"]
    assert isinstance(fingerprint_keys, dict)
    return values + [str(key) for key in fingerprint_keys.values()]


@pytest.fixture
def client(services: Services, stack: Stack, tmp_path: Path) -> Iterator[TestClient]:
    bodies: list[str] = []

    def record(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.text + repr(dict(response.headers)))

    app = create_app(Settings(state_dir=tmp_path), services)
    with indexing(stack, services.engine), TestClient(app) as test_client:
        test_client.event_hooks = {"request": [], "response": [record]}
        yield test_client

    assert bodies, "the test made no request"
    secrets = secrets_of(stack.secrets)
    for body in bodies:
        for secret in secrets:
            assert secret not in body


def key(stack: Stack, name: str) -> dict[str, str]:
    return {"X-API-Key": stack.secrets.institution(name).api_key}


def registration(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "exporter_uscc": EXPORTER,
        "invoice_number": "INV-2026-001",
        "currency": "USD",
        "face_value": FACE,
        "maturity_date": MATURITY,
        "declarations": [{"number": DECL_1, "value": 60_000}, {"number": DECL_2, "value": 50_000}],
    }
    return body | changes


def check_body(invoice_number: str = "INV-2026-001", *numbers: str) -> dict[str, Any]:
    return {
        "exporter_uscc": EXPORTER,
        "invoice_number": invoice_number,
        "currency": "USD",
        "declaration_numbers": list(numbers),
    }


def register(client: TestClient, stack: Stack, bank: str = "Bank A", **changes: Any) -> str:
    response = client.post(
        "/v1/receivables", json=registration(**changes), headers=key(stack, bank)
    )
    assert response.status_code == 201, response.text
    receivable_id: str = response.json()["receivable_id"]
    return receivable_id


def assert_refusal_recorded(stack: Stack, head: int, event: str) -> None:
    """An attempt to double- or over-finance was refused and recorded: one transaction after
    ``head``, whose only log is the refusal ``event``."""
    assert stack.chain.block_number() == head + 1
    (tx_hash,) = stack.chain.w3.eth.get_block(head + 1)["transactions"]
    # Without full transactions, a block lists their hashes.
    (log,) = stack.chain.w3.eth.get_transaction_receipt(cast(HexBytes, tx_hash))["logs"]
    abi = getattr(stack.ledger.contract.events, event)().abi
    assert bytes(log["topics"][0]) == event_abi_to_log_topic(abi)


def assert_problem(
    response: httpx.Response, status: int, rule: str, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"urn:creditreg:problem:{rule}"
    assert problem["rule"] == rule
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["instance"] == response.request.url.path
    if field is not None:
        assert problem["field"] == field
    return problem


# --- health and documentation ------------------------------------------------------------------


def test_health_reports_chain_and_index(stack: Stack, services: Services, tmp_path: Path) -> None:
    # No indexer runs here: the test moves the index's cursor itself.
    client = TestClient(create_app(Settings(state_dir=tmp_path), services))
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "chain_id": stack.chain.chain_id,
        "head_block": stack.chain.block_number(),
        "indexed_block": None,
        "ledger_address": stack.ledger.address,
    }

    with services.engine.begin() as connection:
        write_cursor(connection, CURSOR_NAME, None, Cursor(7, HexStr("0x" + "07" * 32)))
    assert client.get("/health").json()["indexed_block"] == 7


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert set(document["paths"]) == {
        "/health",
        "/v1/index/status",
        "/v1/receivables",
        "/v1/receivables/check",
        "/v1/receivables/{receivable_id}",
        "/v1/receivables/{receivable_id}/financings",
        "/v1/receivables/{receivable_id}/repayments",
        "/v1/receivables/unsigned",
        "/v1/receivables/{receivable_id}/financings/unsigned",
        "/v1/receivables/{receivable_id}/repayments/unsigned",
        "/v1/transactions/{tx_hash}",
        "/v1/receivables/{receivable_id}/cancellation",
        "/v1/declarations/{declaration_number}/attestation",
        "/v1/properties",
        "/v1/properties/lookup",
        "/v1/properties/{property_id}/appraisal",
        "/v1/properties/{property_id}/title",
        "/v1/properties/{property_id}/pledges",
        "/v1/properties/{property_id}/seizures",
        "/v1/properties/{property_id}/seizures/lift",
        "/v1/pledges/{pledge_id}",
        "/v1/pledges/{pledge_id}/approval",
        "/v1/pledges/{pledge_id}/rejection",
        "/v1/pledges/{pledge_id}/decision",
        "/v1/pledges/{pledge_id}/release",
        "/v1/enterprises",
        "/v1/consents",
        "/v1/consents/requests",
        "/v1/consents/revocation-requests",
        "/v1/consents/revocations",
        "/v1/consents/status",
    }
    assert document["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    register_op = document["paths"]["/v1/receivables"]["post"]
    assert set(register_op["responses"]) >= {"201", "401", "403", "409", "422"}
    assert register_op["responses"]["409"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    amount = document["components"]["schemas"]["AmountRequest"]["properties"]["amount"]
    assert amount["type"] == "integer"

    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    assert "/openapi.json" in docs.text


def test_unknown_path_is_a_problem_too(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404, "not-found")


# --- the receivable's life, seen through the duplicate check ----------------------------------


def test_duplicate_check_through_registration_and_financing(
    client: TestClient, stack: Stack
) -> None:
    body = check_body("INV-2026-001", DECL_1, DECL_2)
    unknown = client.post("/v1/receivables/check", json=body, headers=key(stack, "Bank A"))
    assert unknown.status_code == 200, unknown.text
    assert unknown.json() | {"as_of_block": 0} == {
        "status": "unknown",
        "receivable_id": None,
        "key_version": None,
        "cap": None,
        "outstanding": None,
        "headroom": None,
        "held_by_you": False,
        "declarations": [
            {"number": DECL_1, "status": "unknown", "receivable_id": None},
            {"number": DECL_2, "status": "unknown", "receivable_id": None},
        ],
        "as_of_block": 0,
    }

    response = client.post("/v1/receivables", json=registration(), headers=key(stack, "Bank A"))
    assert response.status_code == 201, response.text
    registered = response.json()
    rid = registered["receivable_id"]
    assert response.headers["location"] == f"/v1/receivables/{rid}"
    assert registered["key_version"] == 1
    assert registered["block_number"] == stack.chain.block_number()

    after = client.post("/v1/receivables/check", json=body, headers=key(stack, "Bank A")).json()
    assert (after["status"], after["receivable_id"]) == ("registered", rid)
    assert (after["cap"], after["outstanding"], after["headroom"]) == (CAP, 0, CAP)
    assert after["held_by_you"] is True
    assert [d["status"] for d in after["declarations"]] == ["linked_to_this_invoice"] * 2
    # Registered, nothing drawn yet: still Bank A's alone, nothing for Bank B to draw.
    other = client.post("/v1/receivables/check", json=body, headers=key(stack, "Bank B")).json()
    assert (other["status"], other["headroom"], other["held_by_you"]) == ("registered", 0, False)

    financed = client.post(
        f"/v1/receivables/{rid}/financings", json={"amount": 30_000}, headers=key(stack, "Bank A")
    )
    assert financed.status_code == 201, financed.text
    assert financed.json()["amount"] == 30_000
    assert financed.json()["receivable"]["outstanding"] == 30_000

    mine = client.post("/v1/receivables/check", json=body, headers=key(stack, "Bank A")).json()
    assert (mine["status"], mine["outstanding"], mine["headroom"]) == (
        "financed_by_you",
        30_000,
        CAP - 30_000,
    )
    theirs = client.post("/v1/receivables/check", json=body, headers=key(stack, "Bank B")).json()
    assert (theirs["status"], theirs["outstanding"], theirs["headroom"], theirs["held_by_you"]) == (
        "financed_by_other",
        30_000,
        0,
        False,
    )

    state = client.get(f"/v1/receivables/{rid}", headers=key(stack, "Bank B"))
    assert state.status_code == 200
    assert state.json() | {"as_of_block": 0, "exporter_fingerprint": ""} == {
        "receivable_id": rid,
        "status": "financed",
        "key_version": 1,
        "currency": "USD",
        "maturity_date": MATURITY,
        "registrant": stack.bank_a.signer.address,
        "financier": stack.bank_a.signer.address,
        "exporter_fingerprint": "",
        "face_value": FACE,
        "declared_value": 110_000,
        "cap": CAP,
        "outstanding": 30_000,
        "headroom": CAP - 30_000,
        "overdue": False,
        "as_of_block": 0,
    }


def test_second_invoice_on_the_same_declaration_is_refused_and_recorded(
    client: TestClient, stack: Stack
) -> None:
    """The classic fraud: one shipment, two invoices, two banks. The refusal is recorded on chain
    (who tried, which declaration), and nothing else is written."""
    first = register(client, stack)
    head = stack.chain.block_number()

    fraud = registration(
        invoice_number="INV-2026-999",
        declarations=[
            {"number": "310120260000000001", "value": 1_000},
            {"number": DECL_2, "value": 50_000},
        ],
    )
    response = client.post("/v1/receivables", json=fraud, headers=key(stack, "Bank B"))

    problem = assert_problem(
        response, 409, "declaration-linked-to-other-invoice", field="declarations.1.number"
    )
    assert problem["details"]["linkedReceivable"] == first
    assert_refusal_recorded(stack, head, "RegistrationRefused")
    # Nothing of the refused registration exists: the new invoice and its first declaration are
    # still unknown.
    body = check_body("INV-2026-999", "310120260000000001")
    after = client.post("/v1/receivables/check", json=body, headers=key(stack, "Bank B")).json()
    assert after["status"] == "unknown"
    assert after["declarations"][0]["status"] == "unknown"


def test_registering_the_same_invoice_twice_is_refused(client: TestClient, stack: Stack) -> None:
    rid = register(client, stack)
    head = stack.chain.block_number()
    again = registration(declarations=[{"number": "310120260000000002", "value": 1_000}])
    response = client.post("/v1/receivables", json=again, headers=key(stack, "Bank B"))
    problem = assert_problem(response, 409, "receivable-already-registered")
    assert problem["details"] == {"id": rid, "registrant": stack.bank_a.signer.address}
    assert_refusal_recorded(stack, head, "RegistrationRefused")


def test_another_bank_cannot_finance_a_financed_receivable(
    client: TestClient, stack: Stack
) -> None:
    rid = register(client, stack)
    url = f"/v1/receivables/{rid}/financings"
    assert (
        client.post(url, json={"amount": 10_000}, headers=key(stack, "Bank A")).status_code == 201
    )
    head = stack.chain.block_number()

    response = client.post(url, json={"amount": 10_000}, headers=key(stack, "Bank B"))

    problem = assert_problem(response, 409, "receivable-held-by-other-bank")
    # The institution holding it: Bank A, whose account acts for itself.
    institution = problem["details"]["institution"]
    assert institution.endswith(stack.bank_a.signer.address[2:].lower())
    assert_refusal_recorded(stack, head, "FinancingRefused")


def test_financing_beyond_face_value_times_advance_rate_is_refused(
    client: TestClient, stack: Stack
) -> None:
    # Declarations worth 200,000 on a 100,000 invoice: the advance rate decides the cap.
    rid = register(client, stack, declarations=[{"number": DECL_1, "value": 200_000}])
    url = f"/v1/receivables/{rid}/financings"
    head = stack.chain.block_number()

    response = client.post(url, json={"amount": CAP + 1}, headers=key(stack, "Bank A"))

    problem = assert_problem(response, 409, "financing-exceeds-cap")
    assert problem["details"] == {"id": rid, "amount": CAP + 1, "headroom": CAP}
    assert_refusal_recorded(stack, head, "FinancingRefused")
    at_cap = client.post(url, json={"amount": CAP}, headers=key(stack, "Bank A"))
    assert at_cap.status_code == 201
    assert at_cap.json()["receivable"]["headroom"] == 0


def test_repayments(client: TestClient, stack: Stack) -> None:
    rid = register(client, stack)
    client.post(
        f"/v1/receivables/{rid}/financings", json={"amount": 40_000}, headers=key(stack, "Bank A")
    )
    url = f"/v1/receivables/{rid}/repayments"
    head = stack.chain.block_number()

    too_much = client.post(url, json={"amount": 40_001}, headers=key(stack, "Bank A"))
    problem = assert_problem(too_much, 409, "repayment-exceeds-outstanding")
    assert problem["details"]["outstanding"] == 40_000
    not_theirs = client.post(url, json={"amount": 1}, headers=key(stack, "Bank B"))
    assert_problem(not_theirs, 409, "receivable-held-by-other-bank")
    assert stack.chain.block_number() == head

    partial = client.post(url, json={"amount": 15_000}, headers=key(stack, "Bank A"))
    assert partial.status_code == 201
    assert partial.json()["receivable"]["outstanding"] == 25_000
    full = client.post(url, json={"amount": 25_000}, headers=key(stack, "Bank A")).json()
    assert (full["receivable"]["status"], full["receivable"]["financier"]) == ("settled", None)
    # Settled, and still Bank A's (exclusivity is fixed at registration): Bank B sees a registered
    # invoice with no headroom for it.
    settled = client.post("/v1/receivables/check", json=check_body(), headers=key(stack, "Bank B"))
    assert (settled.json()["status"], settled.json()["headroom"]) == ("registered", 0)


def test_unknown_receivable_is_404(client: TestClient, stack: Stack) -> None:
    rid = "0x" + "00" * 31 + "01"
    response = client.get(f"/v1/receivables/{rid}", headers=key(stack, "Bank A"))
    assert_problem(response, 404, "receivable-not-found")
    financing = client.post(
        f"/v1/receivables/{rid}/financings", json={"amount": 1}, headers=key(stack, "Bank A")
    )
    assert_problem(financing, 404, "receivable-not-found")


# --- bad input ---------------------------------------------------------------------------------

AMOUNT_RULE = "positive-integer-minor-units"
BAD_REGISTRATIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"exporter_uscc": "91350100M000100Y44"}, "exporter_uscc", "uscc-check-digit"),
    ({"currency": "XYZ"}, "currency", "iso-4217"),
    ({"face_value": 100_000.5}, "face_value", AMOUNT_RULE),
    ({"face_value": 100_000.0}, "face_value", AMOUNT_RULE),
    ({"face_value": -100_000}, "face_value", AMOUNT_RULE),
    ({"face_value": 0}, "face_value", AMOUNT_RULE),
    ({"face_value": "100000"}, "face_value", AMOUNT_RULE),
    ({"face_value": True}, "face_value", AMOUNT_RULE),
    ({"face_value": 2**96}, "face_value", AMOUNT_RULE),
    ({"maturity_date": "2027-02-30"}, "maturity_date", "iso-8601-date"),
    ({"maturity_date": 1_900_000_000}, "maturity_date", "iso-8601-date"),
    ({"maturity_date": "2020-01-01"}, "maturity_date", "maturity-in-past"),
    ({"invoice_number": 12345}, "invoice_number", "string-type"),
    ({"invoice_number": "X" * 300}, "invoice_number", "string-too-long"),
    ({"face_valu": 1}, "face_valu", "extra-forbidden"),
    (
        {"declarations": [{"number": "31012026000001234", "value": 1}]},
        "declarations.0.number",
        "declaration-number-format",
    ),
    (
        {"declarations": [{"number": DECL_1, "value": 1}, {"number": DECL_2, "value": 1.5}]},
        "declarations.1.value",
        AMOUNT_RULE,
    ),
    (
        {"declarations": [{"number": DECL_1, "value": 1}, {"number": DECL_1, "value": 1}]},
        "declarations.1.number",
        "declaration-duplicated",
    ),
    (
        {
            "declarations": [
                {"number": f"3101202600000000{i:02}", "value": 1}
                for i in range(MAX_DECLARATIONS + 1)
            ]
        },
        "declarations",
        "declaration-count",
    ),
    ({"declarations": []}, "declarations", "declaration-count"),
]


@pytest.mark.parametrize(("changes", "field", "rule"), BAD_REGISTRATIONS)
def test_bad_registration_is_a_422_problem_and_sends_nothing(
    client: TestClient, stack: Stack, changes: dict[str, Any], field: str, rule: str
) -> None:
    head = stack.chain.block_number()
    response = client.post(
        "/v1/receivables", json=registration(**changes), headers=key(stack, "Bank A")
    )
    problem = assert_problem(response, 422, rule, field=field)
    assert stack.chain.block_number() == head
    if "errors" in problem:  # refused by the request model: every error listed, first on top
        assert problem["errors"][0] == {
            "field": field,
            "rule": rule,
            "message": problem["errors"][0]["message"],
        }


def test_missing_field_is_named(client: TestClient, stack: Stack) -> None:
    body = registration()
    del body["face_value"]
    response = client.post("/v1/receivables", json=body, headers=key(stack, "Bank A"))
    assert_problem(response, 422, "missing", field="face_value")


def test_malformed_json_is_a_problem(client: TestClient, stack: Stack) -> None:
    response = client.post(
        "/v1/receivables",
        content=b'{"exporter_uscc": ',
        headers=key(stack, "Bank A") | {"content-type": "application/json"},
    )
    assert_problem(response, 422, "json-invalid")


@pytest.mark.parametrize(
    ("path", "body", "field", "rule"),
    [
        ("/v1/receivables/0x12/financings", {"amount": 1}, "receivable_id", "receivable-id-format"),
        (f"/v1/receivables/0x{'ab' * 32}/financings", {"amount": 1.5}, "amount", AMOUNT_RULE),
        (f"/v1/receivables/0x{'ab' * 32}/financings", {"amount": -1}, "amount", AMOUNT_RULE),
        (f"/v1/receivables/0x{'ab' * 32}/repayments", {"amount": "1"}, "amount", AMOUNT_RULE),
        (f"/v1/receivables/0x{'ab' * 32}/repayments", {}, "amount", "missing"),
        (
            "/v1/receivables/check",
            check_body("INV-1", DECL_1, "31012026000001234"),
            "declaration_numbers.1",
            "declaration-number-format",
        ),
        (
            "/v1/receivables/check",
            check_body("INV-1", *(f"3101202600000000{i:02}" for i in range(33))),
            "declaration_numbers",
            "declaration-count",
        ),
        (
            "/v1/receivables/check",
            check_body("INV-1") | {"exporter_uscc": "91350100M000100Y44"},
            "exporter_uscc",
            "uscc-check-digit",
        ),
    ],
)
def test_bad_amounts_ids_and_checks_are_422_problems(
    client: TestClient, stack: Stack, path: str, body: dict[str, Any], field: str, rule: str
) -> None:
    head = stack.chain.block_number()
    response = client.post(path, json=body, headers=key(stack, "Bank A"))
    assert_problem(response, 422, rule, field=field)
    assert stack.chain.block_number() == head


# --- authentication and roles ------------------------------------------------------------------

ROUTES = [
    ("post", "/v1/receivables/check", check_body()),
    ("post", "/v1/receivables", registration()),
    ("post", f"/v1/receivables/0x{'ab' * 32}/financings", {"amount": 1}),
    ("post", f"/v1/receivables/0x{'ab' * 32}/repayments", {"amount": 1}),
    ("get", f"/v1/receivables/0x{'ab' * 32}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_missing_or_unknown_api_key_is_401(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    missing = client.request(method, path, json=body)
    assert_problem(missing, 401, "unauthenticated")
    assert missing.headers["www-authenticate"].startswith("APIKey")

    presented = "crk_not-a-key-of-this-registry"
    unknown = client.request(method, path, json=body, headers={"X-API-Key": presented})
    assert_problem(unknown, 401, "unauthenticated")
    assert presented not in unknown.text


@pytest.mark.parametrize(("method", "path", "body"), ROUTES[:4])
def test_admin_key_on_a_bank_route_is_403(
    client: TestClient, stack: Stack, method: str, path: str, body: dict[str, Any] | None
) -> None:
    head = stack.chain.block_number()
    response = client.request(method, path, json=body, headers=key(stack, "Consortium admin"))
    problem = assert_problem(response, 403, "access-denied")
    assert problem["details"] == {"required_role": "lender", "role": "admin"}
    assert stack.chain.block_number() == head


def test_admin_may_read_a_receivable(client: TestClient, stack: Stack) -> None:
    rid = register(client, stack)
    response = client.get(f"/v1/receivables/{rid}", headers=key(stack, "Consortium admin"))
    assert response.status_code == 200
    assert response.json()["registrant"] == stack.bank_a.signer.address


# --- API keys and services ---------------------------------------------------------------------


def test_api_keys_are_stored_hashed_and_resolve_to_their_institution(
    services: Services, stack: Stack
) -> None:
    with services.engine.connect() as connection:
        stored = connection.execute(sa.select(api_keys)).mappings().all()
    assert len(stored) == len(stack.secrets.institutions)
    dump = repr([dict(row) for row in stored])
    for institution in stack.secrets.institutions:
        assert institution.api_key not in dump

    assert lookup(services.engine, stack.bank_a.api_key) == Principal(
        "Bank A", Role.LENDER, stack.bank_a.signer.address
    )
    assert lookup(services.engine, stack.admin.api_key) == Principal(
        "Consortium admin", Role.ADMIN, stack.admin.signer.address
    )
    assert lookup(services.engine, "crk_unknown") is None


def test_storing_api_keys_is_idempotent_and_drops_replaced_keys(
    database_url: str, stack: Stack
) -> None:
    engine = make_engine(database_url)
    create_schema(engine)
    try:
        store_api_keys(engine, stack.secrets.institutions)
        store_api_keys(engine, stack.secrets.institutions)
        with engine.connect() as connection:
            count = connection.scalar(sa.select(sa.func.count()).select_from(api_keys))
        assert count == len(stack.secrets.institutions)

        replaced = DevSecrets.generate().institution("Bank A")
        others = [i for i in stack.secrets.institutions if i.name != "Bank A"]
        store_api_keys(engine, [replaced, *others])
        assert lookup(engine, stack.bank_a.api_key) is None
        assert lookup(engine, replaced.api_key) == Principal(
            "Bank A", Role.LENDER, replaced.signer.address
        )
        assert lookup(engine, stack.bank_b.api_key) is not None
    finally:
        engine.dispose()


def test_services_repr_shows_no_key(services: Services, stack: Stack) -> None:
    shown = repr(services)
    assert "Bank A" in shown
    for secret in secrets_of(stack.secrets):
        assert secret not in shown


def test_app_builds_its_services_from_settings(
    stack: Stack, sqlite_url: str, tmp_path: Path
) -> None:
    """Without services passed in, the app builds them at startup from node URL, manifest and
    secrets file (what ``uvicorn --factory api.app:create_app_from_environment`` runs)."""
    stack.deployment.save(tmp_path / "deployment.json")
    settings = Settings(state_dir=tmp_path, rpc_url=stack.node.url, database_url=sqlite_url)
    # Under the dev password, as `creditreg up` leaves the state dir: the app finds it there.
    keystores = Keystores.from_settings(settings, generate_password=True)
    stack.secrets.api_secrets().save(tmp_path / "secrets.json", keystores)

    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
        check = client.post(
            "/v1/receivables/check", json=check_body(), headers=key(stack, "Bank B")
        )

    assert health.status_code == 200
    assert health.json()["ledger_address"] == stack.ledger.address
    assert check.status_code == 200
    assert check.json()["status"] == "unknown"


def test_services_need_a_node_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CREDITREG_RPC_URL"):
        Services.from_settings(Settings(state_dir=tmp_path, rpc_url=None))


def test_unreachable_chain_is_a_503_problem_without_the_node_url(
    services: Services, stack: Stack, tmp_path: Path
) -> None:
    url = "http://user:password@127.0.0.1:9"
    offline = Chain.connect(url, timeout=1)
    ledger = ReceivableLedger(offline, stack.ledger.address)
    broken = replace(services, chain=offline, ledger=ledger)

    with TestClient(create_app(Settings(state_dir=tmp_path), broken)) as client:
        response = client.get("/health")

    assert_problem(response, 503, "chain-unavailable")
    assert "password" not in response.text
    assert "127.0.0.1:9" not in response.text


# --- served for real -----------------------------------------------------------------------------


@pytest.fixture
def served(services: Services, stack: Stack, tmp_path: Path) -> Iterator[str]:
    """The app behind uvicorn on a free port, as ``creditreg serve`` runs it, with its indexer;
    yields its URL."""
    app = create_app(Settings(state_dir=tmp_path), services)
    with indexing(stack, services.engine), serving(app) as server:
        yield server.url


def test_demo_plays_against_the_served_api(served: str, stack: Stack, tmp_path: Path) -> None:
    secrets_path = tmp_path / "secrets.json"
    stack.secrets.api_secrets().save(secrets_path, cheap_keystores())
    console = Console(record=True, width=120)

    run_demo(served, secrets_path, console)

    output = console.export_text()
    assert "declaration-linked-to-other-invoice" in output
    assert "receivable-held-by-other-bank" in output
    # The pledge scene: ranks, the junior moving up, a seizure refusing a new pledge.
    assert "the automated registrar approved Bank B's pledge: True" in output
    assert "property-seized" in output
    for secret in secrets_of(stack.secrets):
        assert secret not in output
