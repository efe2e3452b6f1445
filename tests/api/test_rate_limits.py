"""Per-key budgets: a key over its budget is answered 429 ``rate-limited`` with ``Retry-After``.

The app runs on a clock of the test's own (:class:`FakeClock`): time passes when a test says so,
so that no test waits, and none depends on how fast the machine is. The budgets are set small
(:data:`TIGHT`); the defaults are checked to be far from anything a client of the benchmarks does.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from api.rate_limits import Budget, RateLimiter
from api.services import Services
from registry.settings import Settings
from tests.api.test_api import assert_problem, key
from tests.conftest import Stack

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

TIGHT = {
    "rate_limit_per_second": 0.25,
    "rate_limit_burst": 3,
    "write_rate_limit_per_second": 0.5,
    "write_rate_limit_burst": 1,
}
"""Requests: 3 at once, then one every 4 s. Writes: 1 at once, then one every 2 s."""

UNKNOWN = "0x" + "00" * 31 + "01"
READ = f"/v1/receivables/{UNKNOWN}"
FINANCE = f"/v1/receivables/{UNKNOWN}/financings"


class FakeClock:
    """Monotonic seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(services: Services, tmp_path: Path, clock: FakeClock) -> FastAPI:
    return create_app(Settings(state_dir=tmp_path, **TIGHT), services, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def read(client: TestClient, stack: Stack, bank: str = "Bank A") -> httpx.Response:
    """A read of a receivable nobody registered: 404 when served, whatever the chain holds."""
    return client.get(READ, headers=key(stack, bank))


def assert_rate_limited(response: httpx.Response, limit: str, retry_after: int) -> dict[str, Any]:
    problem = assert_problem(response, 429, "rate-limited")
    assert response.headers["retry-after"] == str(retry_after)
    assert problem["details"]["limit"] == limit
    assert problem["details"]["retry_after"] == retry_after
    assert f"{limit} budget" in problem["detail"]
    return problem


# --- over budget, and back ----------------------------------------------------------------------


def test_a_burst_over_the_budget_is_429_with_retry_after(client: TestClient, stack: Stack) -> None:
    for _ in range(3):
        assert read(client, stack).status_code == 404

    refused = read(client, stack)

    problem = assert_rate_limited(refused, "requests", 4)
    assert problem["type"] == "urn:creditreg:problem:rate-limited"
    assert problem["details"] == {
        "limit": "requests",
        "rate_per_second": 0.25,
        "burst": 3,
        "retry_after": 4,
    }
    assert "CREDITREG_RATE_LIMIT_PER_SECOND" in problem["detail"]
    # The refusal itself spent nothing: the next one is told the same.
    assert_rate_limited(read(client, stack), "requests", 4)


def test_another_key_keeps_its_own_budget(client: TestClient, stack: Stack) -> None:
    for _ in range(3):
        read(client, stack, "Bank A")
    assert read(client, stack, "Bank A").status_code == 429

    for _ in range(3):
        assert read(client, stack, "Bank B").status_code == 404
    assert read(client, stack, "Bank B").status_code == 429


def test_after_retry_after_the_key_is_served_again(
    client: TestClient, stack: Stack, clock: FakeClock
) -> None:
    for _ in range(3):
        read(client, stack)
    retry_after = int(read(client, stack).headers["retry-after"])
    assert retry_after == 4

    clock.advance(retry_after - 1)
    # Three quarters of a token: not yet, and the wait left is what Retry-After says now.
    assert_rate_limited(read(client, stack), "requests", 1)

    clock.advance(1)
    assert read(client, stack).status_code == 404
    # One token came back, and went: the next is refused again.
    assert_rate_limited(read(client, stack), "requests", 4)

    # A quiet key refills to its burst, no further.
    clock.advance(3600)
    assert [read(client, stack).status_code for _ in range(4)] == [404, 404, 404, 429]


def test_writes_have_a_budget_of_their_own(
    client: TestClient, stack: Stack, clock: FakeClock
) -> None:
    bank = key(stack, "Bank A")
    # A write to a receivable nobody registered: refused 404 before anything is sent.
    assert client.post(FINANCE, json={"amount": 1}, headers=bank).status_code == 404

    refused = client.post(FINANCE, json={"amount": 1}, headers=bank)

    problem = assert_rate_limited(refused, "writes", 2)
    assert "CREDITREG_WRITE_RATE_LIMIT_PER_SECOND" in problem["detail"]
    # The refused write took nothing from the request budget: the write took one of its three,
    # two reads take the others.
    assert [read(client, stack).status_code for _ in range(3)] == [404, 404, 429]

    clock.advance(4)
    assert client.post(FINANCE, json={"amount": 1}, headers=bank).status_code == 404


def test_a_request_without_a_working_key_is_401_not_429(client: TestClient, stack: Stack) -> None:
    for _ in range(3):
        read(client, stack)
    assert read(client, stack).status_code == 429

    for headers in ({}, {"X-API-Key": "crk_not-a-key-of-this-registry"}):
        for _ in range(5):
            assert_problem(client.get(READ, headers=headers), 401, "unauthenticated")
    # Nor does a public route draw on anything.
    assert all(client.get("/health").status_code == 200 for _ in range(5))


def test_the_budget_is_checked_before_the_body_is_read(app: FastAPI, stack: Stack) -> None:
    """Called as a server calls it: a refused request's body is never received."""
    received: list[str] = []
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        received.append("body")
        return {"type": "http.request", "body": b'{"amount": 1}', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    def call(path: str) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"13"),
                (b"x-api-key", stack.bank_a.api_key.encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        asyncio.run(app(scope, receive, send))

    call(FINANCE)
    assert answer["status"] == 404
    assert received
    received.clear()

    call(FINANCE)

    assert answer["status"] == 429
    assert answer["headers"]["content-type"] == PROBLEM_MEDIA_TYPE
    assert answer["headers"]["retry-after"] == "2"
    assert answer["headers"]["connection"] == "close"
    assert received == []


# --- documented, counted, configured -------------------------------------------------------------


def test_the_openapi_document_lists_429_on_every_authenticated_operation(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    keyed = set()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            if not operation.get("security"):
                assert "429" not in responses, f"{method} {path}"
                continue
            keyed.add(f"{method.upper()} {path}")
            refused = responses["429"]
            assert refused["content"] == {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
            assert refused["headers"]["Retry-After"]["required"] is True
            assert refused["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
            assert "`rate-limited`" in refused["description"]
    assert keyed >= {
        "POST /v1/receivables/check",
        "POST /v1/receivables",
        "POST /v1/receivables/{receivable_id}/financings",
        "POST /v1/receivables/{receivable_id}/repayments",
        "GET /v1/receivables/{receivable_id}",
    }


def test_refusals_are_counted_by_budget_and_route(client: TestClient, stack: Stack) -> None:
    bank = key(stack, "Bank A")
    for _ in range(2):
        client.post(FINANCE, json={"amount": 1}, headers=bank)
    for _ in range(4):
        read(client, stack)

    scraped = client.get("/metrics").text
    samples = {
        (sample.labels["limit"], sample.labels["route"]): sample.value
        for family in text_string_to_metric_families(scraped)
        if family.name == "creditreg_http_rate_limited"
        for sample in family.samples
        if sample.name == "creditreg_http_rate_limited_total"
    }
    assert samples == {
        ("writes", "/v1/receivables/{receivable_id}/financings"): 1.0,
        ("requests", "/v1/receivables/{receivable_id}"): 2.0,
    }
    assert 'status="429"' in scraped


def test_the_defaults_leave_the_benchmarks_alone_and_zero_turns_a_budget_off() -> None:
    settings = Settings()
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (1000.0, 2000)
    assert (settings.write_rate_limit_per_second, settings.write_rate_limit_burst) == (500.0, 1000)

    clock = FakeClock()
    off = RateLimiter(
        Budget("requests", 0, 1, "CREDITREG_RATE_LIMIT_PER_SECOND"),
        Budget("writes", 0, 1, "CREDITREG_WRITE_RATE_LIMIT_PER_SECOND"),
        clock=clock,
    )
    assert all(off.take("Bank A", write=True) is None for _ in range(10_000))


@pytest.mark.parametrize(
    ("rate", "taken", "elapsed", "retry_after"),
    [
        (1.0, 1, 0.0, 1),  # empty: one second to a token
        (0.3, 1, 0.0, 4),  # 3.33 s, rounded up: after Retry-After, a whole token is there
        (2.0, 1, 0.0, 1),  # half a second, and never less than 1
        (0.1, 1, 9.5, 1),  # 0.95 of a token back: half a second to go
        (1000.0, 2000, 0.0, 1),  # the default budget, spent at once
    ],
)
def test_retry_after_is_the_whole_seconds_until_a_token(
    rate: float, taken: int, elapsed: float, retry_after: int
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        Budget("requests", rate, taken, "CREDITREG_RATE_LIMIT_PER_SECOND"),
        Budget("writes", 0, 1, "CREDITREG_WRITE_RATE_LIMIT_PER_SECOND"),
        clock=clock,
    )
    assert all(limiter.take("Bank A", write=False) is None for _ in range(taken))
    clock.advance(elapsed)

    refusal = limiter.take("Bank A", write=False)

    assert refusal is not None
    assert refusal.retry_after == retry_after
    clock.advance(refusal.retry_after)
    assert limiter.take("Bank A", write=False) is None
