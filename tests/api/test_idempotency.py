"""Writes with an Idempotency-Key, and read-your-writes (api.writes, registry.idempotency).

A bank sends a write again when it did not get the answer: the retry must get the first answer
and never draw a second tranche, whether the first is answered, still running, cut off from its
client, or its process was killed after sending. And a write is answered only once the index
holds its block, so that the next read agrees.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from api.services import Services
from registry.db import make_engine, schema
from registry.settings import Settings
from tests.api.test_api import CAP, TestClient, assert_problem, key, registration
from tests.conftest import Stack, indexing, start_stack
from tests.serving import serving

FINANCINGS = "/v1/receivables/{}/financings"


@pytest.fixture
def services(stack: Stack, sqlite_url: str) -> Iterator[Services]:
    engine = make_engine(sqlite_url)
    yield Services.build(
        engine, stack.chain, stack.deployment, stack.secrets, write_index_timeout=5
    )
    engine.dispose()


@pytest.fixture
def client(services: Services, stack: Stack, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(state_dir=tmp_path), services)
    with indexing(stack, services.engine), TestClient(app) as test_client:
        yield test_client


def idempotent(stack: Stack, bank: str, idempotency_key: str) -> dict[str, str]:
    return key(stack, bank) | {"Idempotency-Key": idempotency_key}


def register(client: TestClient, stack: Stack, **changes: Any) -> str:
    response = client.post(
        "/v1/receivables", json=registration(**changes), headers=key(stack, "Bank A")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["receivable_id"])


def drawn(stack: Stack, receivable_id: str) -> int:
    return stack.ledger.receivable(bytes.fromhex(receivable_id[2:])).outstanding


def refusals_since(services: Services, block: int) -> int:
    """Financing refusals the index holds from blocks after ``block``."""
    with services.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(schema.events)
                .where(schema.events.c.event == "FinancingRefused")
                .where(schema.events.c.block_number > block)
            ).scalar_one()
        )


def test_a_retry_gets_the_first_answer_and_draws_nothing_more(
    client: TestClient, stack: Stack
) -> None:
    receivable = register(client, stack)
    headers = idempotent(stack, "Bank A", "draw-1")

    first = client.post(FINANCINGS.format(receivable), json={"amount": 30_000}, headers=headers)
    again = client.post(FINANCINGS.format(receivable), json={"amount": 30_000}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert drawn(stack, receivable) == 30_000


def test_the_same_key_with_another_request_is_refused(client: TestClient, stack: Stack) -> None:
    receivable = register(client, stack)
    headers = idempotent(stack, "Bank A", "draw-2")
    client.post(FINANCINGS.format(receivable), json={"amount": 30_000}, headers=headers)

    other = client.post(FINANCINGS.format(receivable), json={"amount": 40_000}, headers=headers)

    problem = assert_problem(other, 422, "idempotency-key-reused")
    assert problem["field"] == "Idempotency-Key"
    assert drawn(stack, receivable) == 30_000


def test_keys_are_per_institution(client: TestClient, stack: Stack) -> None:
    """Bank B's key "k" is not Bank A's: its request is its own, refused by the rule."""
    receivable = register(client, stack)
    url = FINANCINGS.format(receivable)
    client.post(url, json={"amount": 30_000}, headers=idempotent(stack, "Bank A", "k"))

    other_bank = client.post(url, json={"amount": 30_000}, headers=idempotent(stack, "Bank B", "k"))

    assert_problem(other_bank, 409, "receivable-held-by-other-bank")


def test_a_recorded_refusal_is_replayed_not_recorded_again(
    client: TestClient, stack: Stack, services: Services
) -> None:
    receivable = register(client, stack)
    headers = idempotent(stack, "Bank A", "too-much")
    url = FINANCINGS.format(receivable)

    before = stack.chain.block_number()
    first = client.post(url, json={"amount": CAP + 1}, headers=headers)
    head = stack.chain.block_number()
    again = client.post(url, json={"amount": CAP + 1}, headers=headers)

    assert_problem(first, 409, "financing-exceeds-cap")
    assert again.status_code == 409
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/problem+json"
    assert stack.chain.block_number() == head  # nothing sent for the retry
    assert refusals_since(services, before) == 1


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ("", "string-too-short"),
        ("with space", "string-pattern-mismatch"),
        ("x" * 256, "string-too-long"),
    ],
)
def test_a_malformed_key_is_refused_before_anything_is_sent(
    client: TestClient, stack: Stack, bad: str, rule: str
) -> None:
    receivable = register(client, stack)
    head = stack.chain.block_number()

    response = client.post(
        FINANCINGS.format(receivable), json={"amount": 1}, headers=idempotent(stack, "Bank A", bad)
    )

    problem = assert_problem(response, 422, rule)
    assert problem["field"] == "header.Idempotency-Key"
    assert stack.chain.block_number() == head


def test_concurrent_retries_draw_once_and_agree(client: TestClient, stack: Stack) -> None:
    receivable = register(client, stack)
    headers = idempotent(stack, "Bank A", "burst")
    url = FINANCINGS.format(receivable)
    start = threading.Barrier(12)

    def send(_: int) -> httpx.Response:
        start.wait()
        return client.post(url, json={"amount": 20_000}, headers=headers)

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(send, range(12)))

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["tx_hash"] for a in answers}) == 1
    assert drawn(stack, receivable) == 20_000


def test_a_write_is_answered_once_the_index_holds_it(
    client: TestClient, stack: Stack, services: Services
) -> None:
    receivable = register(client, stack)

    answer = client.post(
        FINANCINGS.format(receivable), json={"amount": 25_000}, headers=key(stack, "Bank A")
    )

    assert answer.status_code == 201
    with services.engine.connect() as connection:
        financing = connection.execute(
            sa.select(schema.financings).where(
                schema.financings.c.tx_hash == answer.json()["tx_hash"]
            )
        ).one_or_none()
    assert financing is not None


def test_when_the_index_lags_the_answer_says_so_and_a_retry_gets_it_later(
    stack: Stack, sqlite_url: str, tmp_path: Path
) -> None:
    """No indexer runs at first: the write is on chain, the answer is 503 index-behind with the
    transaction. With the indexer started, the same request and key get the 201, without a
    second drawdown."""
    engine = make_engine(sqlite_url)
    services = Services.build(
        engine, stack.chain, stack.deployment, stack.secrets, write_index_timeout=0.3
    )
    app = create_app(Settings(state_dir=tmp_path), services)
    try:
        with TestClient(app) as client:
            with indexing(stack, engine):
                receivable = register(client, stack)
            headers = idempotent(stack, "Bank A", "lagging")
            url = FINANCINGS.format(receivable)

            behind = client.post(url, json={"amount": 10_000}, headers=headers)

            problem = assert_problem(behind, 503, "index-behind")
            tx_hash = problem["details"]["tx_hash"]
            assert problem["details"]["block_number"] == stack.chain.block_number()
            with indexing(stack, engine):
                later = client.post(url, json={"amount": 10_000}, headers=headers)
    finally:
        engine.dispose()

    assert later.status_code == 201, later.text
    assert later.json()["tx_hash"] == tx_hash
    assert drawn(stack, receivable) == 10_000


def test_a_client_that_hangs_up_and_retries_gets_the_one_drawdown(
    services: Services, stack: Stack, tmp_path: Path
) -> None:
    """The node mines only when told: the first request waits for its block, its client gives
    up; the retry, on a new connection, waits for the same answer (the node mines meanwhile)."""
    app = create_app(Settings(state_dir=tmp_path), services)
    with (
        indexing(stack, services.engine),
        serving(app) as served,
        httpx.Client(base_url=served.url, timeout=30) as http,
    ):
        created = http.post("/v1/receivables", json=registration(), headers=key(stack, "Bank A"))
        receivable = created.json()["receivable_id"]
        headers = idempotent(stack, "Bank A", str(uuid.uuid4()))
        url = FINANCINGS.format(receivable)
        rpc(stack, "evm_setAutomine", False)
        try:
            with pytest.raises(httpx.ReadTimeout):
                http.post(url, json={"amount": 15_000}, headers=headers, timeout=0.5)
            wait_until(lambda: pending(stack) == 1)
            threading.Timer(0.5, lambda: rpc(stack, "evm_mine")).start()
            retry = http.post(url, json={"amount": 15_000}, headers=headers)
        finally:
            rpc(stack, "evm_setAutomine", True)

    assert retry.status_code == 201, retry.text
    assert drawn(stack, receivable) == 15_000


def test_a_retry_while_the_first_is_still_running_is_told_to_come_back(
    services: Services, stack: Stack, tmp_path: Path
) -> None:
    """The first request waits for a block the node does not mine: a retry that waits longer
    than the API will is answered 409 idempotency-key-in-flight with Retry-After, and sends
    nothing of its own."""
    services.writes.in_flight_wait = 0.3
    app = create_app(Settings(state_dir=tmp_path), services)
    with (
        indexing(stack, services.engine),
        serving(app) as served,
        httpx.Client(base_url=served.url, timeout=30) as http,
    ):
        created = http.post("/v1/receivables", json=registration(), headers=key(stack, "Bank A"))
        url = FINANCINGS.format(created.json()["receivable_id"])
        headers = idempotent(stack, "Bank A", "slow")
        rpc(stack, "evm_setAutomine", False)
        try:
            with pytest.raises(httpx.ReadTimeout):
                http.post(url, json={"amount": 5_000}, headers=headers, timeout=0.5)
            wait_until(lambda: pending(stack) == 1)

            retry = http.post(url, json={"amount": 5_000}, headers=headers)

            assert pending(stack) == 1
        finally:
            rpc(stack, "evm_setAutomine", True)
            rpc(stack, "evm_mine")

    problem = assert_problem(retry, 409, "idempotency-key-in-flight")
    assert retry.headers["Retry-After"] == "1"
    assert problem["details"] == {"retry_after": 1}


def rpc(stack: Stack, method: str, *params: Any) -> Any:
    response = stack.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def pending(stack: Stack) -> int:
    return int(rpc(stack, "txpool_status")["pending"], 16)


def wait_until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def reorganized(tmp_path: Path) -> Iterator[tuple[Stack, TestClient]]:
    """An API on a node of its own, whose chain the test reorganizes (``anvil_reorg``: see
    tests/indexer/test_reorg.py for why not on the session's node)."""
    stack = start_stack("anvil")
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    services = Services.build(
        engine, stack.chain, stack.deployment, stack.secrets, write_index_timeout=5
    )
    app = create_app(Settings(state_dir=tmp_path), services)
    try:
        with indexing(stack, engine), TestClient(app) as client:
            yield stack, client
    finally:
        engine.dispose()
        stack.node.stop()


@pytest.mark.parametrize("fate", ["dropped", "mined-again-earlier"])
def test_an_answer_a_reorganization_took_away_is_not_replayed(
    reorganized: tuple[Stack, TestClient], fate: str
) -> None:
    """A drawdown answered 201, then a 2-block reorganization replaces its block (and the empty
    one before it, so the registration stays). Retried with
    the same key, the stale answer is not replayed: the caller learns the transaction's fate,
    503 ``transaction-dropped`` (and the next retry draws it anew), or, mined again a block
    earlier, its answer from there, marked replayed. Never two drawdowns."""
    stack, client = reorganized
    receivable = register(client, stack)
    stack.mine_at(stack.chain.head()[1] + 1)  # a block between the registration and the drawdown
    headers = idempotent(stack, "Bank A", "draw-reorganized")
    url = FINANCINGS.format(receivable)
    first = client.post(url, json={"amount": 30_000}, headers=headers)
    assert first.status_code == 201, first.text
    tx_hash, block = first.json()["tx_hash"], first.json()["block_number"]
    assert whereabouts(client, stack, tx_hash) == {
        "tx_hash": tx_hash,
        "status": "mined",
        "block_number": block,
        "confirmations": 1,
        "indexed": True,
    }
    raw = stack.chain.w3.provider.make_request("eth_getRawTransactionByHash", [tx_hash])["result"]  # type: ignore[arg-type]
    carried = [[raw, 0]] if fate == "mined-again-earlier" else []
    response = stack.chain.w3.provider.make_request("anvil_reorg", [2, carried])  # type: ignore[arg-type]
    assert "error" not in response, response

    moved = whereabouts(client, stack, tx_hash)
    again = client.post(url, json={"amount": 30_000}, headers=headers)

    if fate == "dropped":
        assert (moved["status"], moved["block_number"]) == ("unknown", None)
        assert_problem(again, 503, "transaction-dropped")
        assert drawn(stack, receivable) == 0
        anew = client.post(url, json={"amount": 30_000}, headers=headers)
        assert anew.status_code == 201, anew.text
        assert "Idempotent-Replayed" not in anew.headers
    else:
        assert (moved["status"], moved["block_number"], moved["confirmations"]) == (
            "mined",
            block - 1,
            2,
        )
        assert again.status_code == 201, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["tx_hash"] == tx_hash
        assert again.json()["block_number"] == block - 1
    assert drawn(stack, receivable) == 30_000
    assert client.post(url, json={"amount": 30_000}, headers=headers).json()["block_number"] == (
        drawn_block(stack, receivable)
    )


def whereabouts(client: TestClient, stack: Stack, tx_hash: str) -> dict[str, Any]:
    response = client.get(f"/v1/transactions/{tx_hash}", headers=key(stack, "Bank B"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_transaction_hash_must_be_one(client: TestClient, stack: Stack) -> None:
    response = client.get("/v1/transactions/0x1234", headers=key(stack, "Bank A"))
    assert_problem(response, 422, "tx-hash-format", "tx_hash")
    unknown = whereabouts(client, stack, "0x" + "cd" * 32)
    assert (unknown["status"], unknown["indexed"]) == ("unknown", False)


def drawn_block(stack: Stack, receivable: str) -> int:
    """The block of the receivable's one drawdown, as the chain has it now."""
    logs = stack.ledger.contract.events.ReceivableFinanced.get_logs(from_block=0)
    assert len(logs) == 1, logs
    assert "0x" + logs[0]["args"]["id"].hex() == receivable
    return int(logs[0]["blockNumber"])
