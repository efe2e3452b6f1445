"""The API's answers to what is not a ledger rule: a bug in a route, a method a path does not take,
a bank whose signing key the API does not hold, a node that is down. Each is an RFC 9457 problem
like every other refusal, sends nothing to the chain, and shows nothing it must not: no traceback,
no secret, not the node's URL. The operator finds the failure in the log instead.

On SQLite and on PostgreSQL, like the other API tests whose answers read the index database (keys,
role watermark, index status). Every response is scanned for the stack's secrets.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.exceptions import StarletteDeprecationWarning
from web3 import Web3
from web3.types import RPCEndpoint, RPCResponse

from api.app import create_app
from api.services import Services
from registry.chain.client import Chain
from registry.settings import Settings
from tests.api.test_api import assert_problem, check_body, key, secrets_of
from tests.api.test_roles import BANK_ROUTES, RECEIVABLE, SENDING, RecordingProvider, nonce
from tests.conftest import Stack
from tests.helpers import without_signing_key

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

GENERIC_500 = "the registry could not complete the request"
GENERIC_503 = "the registry could not complete the request; try again later"


class FailingProvider(RecordingProvider):
    """A node connection that fails once as no code expects (a bug, not an outage): the first
    request for ``failing`` raises a RuntimeError carrying ``message``."""

    def __init__(self, url: str, failing: str, message: str) -> None:
        super().__init__(url)
        self.failing: str | None = failing
        self.message = message

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == self.failing:
            self.failing = None
            raise RuntimeError(self.message)
        return super().make_request(method, params)


ClientFor = Callable[[Services], TestClient]


@pytest.fixture
def client_for(stack: Stack, tmp_path: Path) -> Iterator[ClientFor]:
    """Opens a TestClient on the app for given services; after the test, no response it gave
    may hold a secret of the stack. A server error is answered, not raised into the test: what
    the client sees is what is tested."""
    bodies: list[str] = []
    opened: list[TestClient] = []

    def record(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.text + repr(dict(response.headers)))

    def open_client(services: Services) -> TestClient:
        app = create_app(Settings(state_dir=tmp_path), services)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        client.event_hooks = {"request": [], "response": [record]}
        opened.append(client)
        return client

    yield open_client

    for client in opened:
        client.__exit__(None, None, None)
    assert bodies, "the test made no request"
    for body in bodies:
        for secret in secrets_of(stack.secrets):
            assert secret not in body


def build(stack: Stack, engine: sa.Engine, chain: Chain | None = None) -> Services:
    chain = chain or stack.chain
    return Services.build(engine, chain, stack.deployment, stack.secrets)


# --- a bug in a route ---------------------------------------------------------------------------


def test_an_unexpected_error_is_a_generic_500_problem_and_is_logged(
    client_for: ClientFor, stack: Stack, engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # What the failure's text holds never reaches the client: here a key and a node URL with its
    # credentials, as an exception from deep in a library may well carry.
    secret = stack.bank_a.signer.private_key_hex
    message = f"unexpected node answer (key {secret}, node http://user:hunter2@node.internal:8545)"
    chain = Chain(Web3(FailingProvider(stack.node.url, "eth_getBlockByNumber", message)))
    client = client_for(build(stack, engine, chain))
    path = f"/v1/receivables/0x{'ab' * 32}"

    with caplog.at_level(logging.ERROR, logger="api.problems"):
        response = client.get(path, headers=key(stack, "Bank A"))

    problem = assert_problem(response, 500, "internal-error")
    assert problem["detail"] == GENERIC_500
    assert problem["details"] == {}
    for leak in ("hunter2", "node.internal", "RuntimeError", "Traceback", ".py", "unexpected"):
        assert leak not in response.text
    # The operator's side: the request and the whole exception, traceback included.
    (logged,) = [r for r in caplog.records if r.name == "api.problems"]
    assert logged.levelno == logging.ERROR
    assert logged.getMessage() == f"GET {path} failed"
    assert logged.exc_info is not None
    assert isinstance(logged.exc_info[1], RuntimeError)
    assert str(logged.exc_info[1]) == message
    assert logged.exc_info[2] is not None
    # One failure, not a broken app: the same request is answered once the node answers.
    again = client.get(path, headers=key(stack, "Bank A"))
    assert_problem(again, 404, "receivable-not-found")


# --- framework errors ---------------------------------------------------------------------------

RID = "0x" + "ab" * 32


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/receivables/check", {"POST"}),
        ("GET", "/v1/receivables/unsigned", {"POST"}),
        ("DELETE", "/v1/receivables", {"GET", "POST"}),
        ("PUT", f"/v1/receivables/{RID}/financings", {"GET", "POST"}),
        ("DELETE", f"/v1/receivables/{RID}", {"GET"}),
        ("GET", f"/v1/receivables/{RID}/repayments", {"POST"}),
        ("PATCH", f"/v1/receivables/{RID}/repayments", {"POST"}),
        ("POST", "/health", {"GET"}),
        ("DELETE", "/v1/index/status", {"GET"}),
    ],
)
def test_a_method_the_path_does_not_take_is_a_405_problem_naming_the_allowed_ones(
    client_for: ClientFor,
    stack: Stack,
    engine: sa.Engine,
    method: str,
    path: str,
    allowed: set[str],
) -> None:
    client = client_for(build(stack, engine))
    tip = stack.tip()

    # Anonymous or a bank's: no route takes the method, so no key is asked for.
    for headers in ({}, key(stack, "Bank A")):
        response = client.request(method, path, json={"amount": 1}, headers=headers)

        assert_problem(response, 405, "method-not-allowed")
        assert {part.strip() for part in response.headers["allow"].split(",")} == allowed
    assert stack.tip() == tip


# --- the API holds no signing key for the bank --------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), BANK_ROUTES[1:])
def test_a_bank_the_api_holds_no_signing_key_for_is_refused_before_anything_is_sent(
    client_for: ClientFor,
    stack: Stack,
    engine: sa.Engine,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    """The secrets file gives Bank A's API key and account but not its signing key (the bank
    signs elsewhere, or its key was withdrawn): its key still authenticates it, as a bank, and
    the API refuses to write for it unless it sends the transaction signed (tests/api/
    test_own_keys.py), rather than sign with anything else. Its duplicate checks are answered
    for its account."""
    secrets = without_signing_key(stack, "Bank A")
    provider = RecordingProvider(stack.node.url)
    chain = Chain(Web3(provider))
    services = Services.build(engine, chain, stack.deployment, secrets)
    client = client_for(services)
    tip, bank_nonce = stack.tip(), nonce(stack, "Bank A")

    response = client.request(method, path, json=body, headers=key(stack, "Bank A"))

    problem = assert_problem(response, 403, "access-denied")
    assert problem["details"] == {"institution": "Bank A"}
    assert "no signing key for Bank A: ask for the transaction unsigned" in problem["detail"]
    assert not SENDING & set(provider.methods), provider.methods
    assert (stack.tip(), nonce(stack, "Bank A")) == (tip, bank_nonce)
    # Only Bank A's part is missing: another bank is served, and Bank A may still read.
    other = client.post("/v1/receivables/check", json=check_body(), headers=key(stack, "Bank B"))
    assert other.status_code == 200, other.text
    own = client.post("/v1/receivables/check", json=check_body(), headers=key(stack, "Bank A"))
    assert own.status_code == 200, own.text
    read = client.get(RECEIVABLE, headers=key(stack, "Bank A"))
    assert_problem(read, 404, "receivable-not-found")


# --- the node is down ---------------------------------------------------------------------------


def test_index_status_is_a_503_problem_without_the_node_url_when_the_node_is_unreachable(
    client_for: ClientFor, stack: Stack, engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    offline = Chain.connect("http://user:hunter2@127.0.0.1:9", timeout=1)
    client = client_for(replace(build(stack, engine), chain=offline))

    with caplog.at_level(logging.ERROR, logger="api.problems"):
        response = client.get("/v1/index/status")

    problem = assert_problem(response, 503, "chain-unavailable")
    assert (problem["detail"], problem["details"]) == (GENERIC_503, {})
    assert "hunter2" not in response.text
    assert "127.0.0.1:9" not in response.text
    (logged,) = [r for r in caplog.records if r.name == "api.problems"]
    assert logged.getMessage().startswith("GET /v1/index/status failed: chain-unavailable")
