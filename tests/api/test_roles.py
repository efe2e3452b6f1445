"""The chain decides the roles, not the API's table: a bank whose LENDER_ROLE the admin revoked on
chain is refused (403 ``missing-role``) before the API builds, signs or sends anything for it, and
the grants the API caches give way as soon as the index shows a role event.

Each test runs on SQLite and on PostgreSQL (the index database the cache's invalidation reads).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.exceptions import StarletteDeprecationWarning
from web3 import Web3
from web3.providers.rpc import HTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from api.app import create_app
from api.roles import MAX_AGE_SECONDS, ChainRoles
from api.services import Services
from registry.chain.client import Chain
from registry.contracts.roles import LENDER_ROLE
from registry.indexer import Indexer
from registry.settings import Settings
from tests.api.test_api import assert_problem, check_body, key, registration
from tests.conftest import Stack

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SENDING = {"eth_estimateGas", "eth_sendRawTransaction", "eth_sendTransaction"}
RECEIVABLE = f"/v1/receivables/0x{'ab' * 32}"


class RecordingProvider(HTTPProvider):
    """An HTTP provider that remembers every method the API asked the node for."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.methods: list[str] = []

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self.methods.append(str(method))
        return super().make_request(method, params)


@dataclass
class Api:
    client: TestClient
    services: Services
    provider: RecordingProvider
    now: list[float] = field(default_factory=lambda: [0.0])

    def tick(self, seconds: float) -> None:
        self.now[0] += seconds


@pytest.fixture
def api(stack: Stack, engine: sa.Engine, tmp_path: Path) -> Iterator[Api]:
    """The API on its own connection to the node, which records what it is asked, with a clock
    the test moves."""
    provider = RecordingProvider(stack.node.url)
    chain = Chain(Web3(provider))
    services = Services.build(engine, chain, stack.deployment, stack.secrets)
    now = [0.0]
    services = replace(services, roles=ChainRoles(engine, clock=lambda: now[0]))
    with TestClient(create_app(Settings(state_dir=tmp_path), services)) as client:
        yield Api(client, services, provider, now)


def set_lender(stack: Stack, bank: str, granted: bool) -> None:
    """The consortium admin grants or revokes a bank's LENDER_ROLE on the ledger, on chain."""
    account = stack.secrets.institution(bank).signer.address
    functions = stack.ledger.contract.functions
    function = functions.grantRole if granted else functions.revokeRole
    stack.chain.transact(stack.secrets.deployer, function(LENDER_ROLE, account))


def index(stack: Stack, engine: sa.Engine) -> None:
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()


def nonce(stack: Stack, bank: str) -> int:
    account = stack.secrets.institution(bank).signer.address
    return stack.chain.w3.eth.get_transaction_count(account, "pending")


BANK_ROUTES = [
    ("post", "/v1/receivables/check", check_body()),
    ("post", "/v1/receivables", registration()),
    ("post", f"{RECEIVABLE}/financings", {"amount": 1}),
    ("post", f"{RECEIVABLE}/repayments", {"amount": 1}),
]


def assert_missing_lender_role(response: Any, stack: Stack, bank: str) -> None:
    problem = assert_problem(response, 403, "missing-role")
    assert problem["details"] == {
        "contract": "ReceivableLedger",
        "role": "LENDER_ROLE",
        "account": stack.secrets.institution(bank).signer.address,
    }
    assert "LENDER_ROLE" in problem["detail"]


@pytest.mark.parametrize(("method", "path", "body"), BANK_ROUTES)
def test_a_bank_whose_role_was_revoked_on_chain_gets_403_and_nothing_is_sent(
    api: Api, stack: Stack, method: str, path: str, body: dict[str, Any]
) -> None:
    set_lender(stack, "Bank A", granted=False)
    head, bank_nonce = stack.chain.block_number(), nonce(stack, "Bank A")

    response = api.client.request(method, path, json=body, headers=key(stack, "Bank A"))

    assert_missing_lender_role(response, stack, "Bank A")
    # Not even estimated: the API built no transaction for the bank.
    assert not SENDING & set(api.provider.methods), api.provider.methods
    assert stack.chain.block_number() == head
    assert nonce(stack, "Bank A") == bank_nonce
    # The table still says "lender": it did not decide.
    other = api.client.post(
        "/v1/receivables/check", json=check_body(), headers=key(stack, "Bank B")
    )
    assert other.status_code == 200


def test_reading_a_receivable_needs_no_chain_role(api: Api, stack: Stack) -> None:
    set_lender(stack, "Bank A", granted=False)
    response = api.client.get(RECEIVABLE, headers=key(stack, "Bank A"))
    assert_problem(response, 404, "receivable-not-found")


def test_a_revocation_takes_effect_as_soon_as_the_index_shows_it(
    api: Api, stack: Stack, engine: sa.Engine
) -> None:
    check = check_body()
    assert api.client.post(
        "/v1/receivables/check", json=check, headers=key(stack, "Bank A")
    ).is_success
    set_lender(stack, "Bank A", granted=False)

    # The grant is cached (the clock stands still) and the index has not seen the revocation: the
    # read is still answered. A write is not: the contract checks the role itself, and the
    # estimate refuses it, so nothing is signed or sent.
    assert api.client.post(
        "/v1/receivables/check", json=check, headers=key(stack, "Bank A")
    ).is_success
    head, bank_nonce = stack.chain.block_number(), nonce(stack, "Bank A")
    write = api.client.post("/v1/receivables", json=registration(), headers=key(stack, "Bank A"))
    assert_problem(write, 403, "missing-role")
    assert (stack.chain.block_number(), nonce(stack, "Bank A")) == (head, bank_nonce)

    index(stack, engine)

    refused = api.client.post("/v1/receivables/check", json=check, headers=key(stack, "Bank A"))
    assert_missing_lender_role(refused, stack, "Bank A")


def test_a_cached_grant_expires_when_the_index_stands_still(api: Api, stack: Stack) -> None:
    check = check_body()
    assert api.client.post(
        "/v1/receivables/check", json=check, headers=key(stack, "Bank A")
    ).is_success
    set_lender(stack, "Bank A", granted=False)

    api.tick(MAX_AGE_SECONDS)

    refused = api.client.post("/v1/receivables/check", json=check, headers=key(stack, "Bank A"))
    assert_missing_lender_role(refused, stack, "Bank A")


def test_a_grant_works_at_once(api: Api, stack: Stack) -> None:
    """Refusals are not cached: the bank the admin grants its role again is served at the next
    request, before any indexer has seen the grant."""
    set_lender(stack, "Bank A", granted=False)
    check = check_body()
    refused = api.client.post("/v1/receivables/check", json=check, headers=key(stack, "Bank A"))
    assert_missing_lender_role(refused, stack, "Bank A")

    set_lender(stack, "Bank A", granted=True)

    again = api.client.post("/v1/receivables/check", json=check, headers=key(stack, "Bank A"))
    assert again.status_code == 200


def test_a_cached_grant_saves_the_node_a_call(api: Api, stack: Stack) -> None:
    check = check_body()
    headers = key(stack, "Bank A")
    assert api.client.post("/v1/receivables/check", json=check, headers=headers).is_success
    asked = api.provider.methods.count("eth_call")
    assert api.client.post("/v1/receivables/check", json=check, headers=headers).is_success
    # The second check asks the contract what the first did, but not the role again.
    assert api.provider.methods.count("eth_call") - asked == asked - 1
