"""What the API reads of a request before it knows the caller: the headers, and nothing more.

A request without a working key is answered 401 before one byte of its body is received, and a
body beyond the limit (CREDITREG_MAX_REQUEST_BYTES) 413 before it is read whole, whether its
Content-Length says so or a chunked body grows past the limit. The app is called the way a server
calls it (ASGI), with a receive() that counts the bytes it hands over; and once through uvicorn,
with a socket that sends the headers only.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from api.services import Services
from registry.settings import Settings
from tests.conftest import Stack
from tests.serving import serving

LIMIT = 64 * 1024
HUGE = 50 * 1024 * 1024
CHUNK = 16 * 1024


@pytest.fixture
def app(services: Services, tmp_path: Path) -> FastAPI:
    return create_app(Settings(state_dir=tmp_path, max_request_bytes=LIMIT), services)


@dataclass
class Exchange:
    """One request played against the app, and what the app read of it."""

    delivered: int = 0
    """Body bytes the app received."""
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == PROBLEM_MEDIA_TYPE
        document: dict[str, Any] = json.loads(self.body)
        return document


def play(
    app: FastAPI,
    path: str,
    *,
    api_key: str | None,
    total: int,
    declared: int | None,
    method: str = "POST",
) -> Exchange:
    """Sends ``total`` body bytes in chunks, announcing ``declared`` as Content-Length (chunked
    when None), as a server would hand them to the app, and records the answer."""
    headers = [(b"content-type", b"application/json")]
    if declared is None:
        headers.append((b"transfer-encoding", b"chunked"))
    else:
        headers.append((b"content-length", str(declared).encode()))
    if api_key is not None:
        headers.append((b"x-api-key", api_key.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    exchange = Exchange()

    async def receive() -> dict[str, Any]:
        left = total - exchange.delivered
        if left <= 0 and total > 0:
            return {"type": "http.disconnect"}  # what a server says once the body has gone
        size = min(CHUNK, left)
        exchange.delivered += size
        return {"type": "http.request", "body": b"x" * size, "more_body": size < left}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), timeout=60)

    asyncio.run(run())
    return exchange


def assert_too_large(exchange: Exchange) -> None:
    assert exchange.status == 413
    problem = exchange.problem
    assert problem["rule"] == "request-body-too-large"
    assert problem["type"] == "urn:creditreg:problem:request-body-too-large"
    assert problem["details"] == {"limit_bytes": LIMIT}
    assert "CREDITREG_MAX_REQUEST_BYTES" in problem["detail"]
    # The rest of the body is never read: the connection goes with the answer.
    assert exchange.headers["connection"] == "close"


@pytest.mark.parametrize("declared", [HUGE, None], ids=["content-length", "chunked"])
@pytest.mark.parametrize("api_key", [None, "crk_not-a-key-of-this-registry"])
def test_unauthenticated_request_is_401_before_its_body_is_read(
    app: FastAPI, api_key: str | None, declared: int | None
) -> None:
    exchange = play(app, "/v1/receivables", api_key=api_key, total=HUGE, declared=declared)

    assert exchange.status == 401
    assert exchange.problem["rule"] == "unauthenticated"
    assert exchange.headers["www-authenticate"].startswith("APIKey")
    assert exchange.delivered == 0


def test_body_announced_beyond_the_limit_is_413_before_it_is_read(
    app: FastAPI, stack: Stack
) -> None:
    exchange = play(app, "/v1/receivables", api_key=stack.bank_a.api_key, total=HUGE, declared=HUGE)

    assert_too_large(exchange)
    assert exchange.delivered == 0


@pytest.mark.parametrize("declared", [None, 100], ids=["chunked", "longer-than-announced"])
def test_body_growing_past_the_limit_is_413_once_it_crosses_it(
    app: FastAPI, stack: Stack, declared: int | None
) -> None:
    head = stack.chain.block_number()

    exchange = play(
        app, "/v1/receivables", api_key=stack.bank_a.api_key, total=HUGE, declared=declared
    )

    assert_too_large(exchange)
    # Read up to the chunk that crossed the limit, and no further.
    assert LIMIT < exchange.delivered <= LIMIT + CHUNK
    assert stack.chain.block_number() == head


def test_body_at_the_limit_is_read_and_parsed(app: FastAPI, stack: Stack) -> None:
    """The limit refuses what is beyond it only: a body of exactly the limit reaches the route,
    which refuses it for what it is (not JSON)."""
    exchange = play(
        app, "/v1/receivables", api_key=stack.bank_a.api_key, total=LIMIT, declared=LIMIT
    )

    assert exchange.delivered == LIMIT
    assert exchange.status == 422
    assert exchange.problem["rule"] == "json-invalid"


def test_the_limit_is_a_setting_with_a_sane_default() -> None:
    assert Settings().max_request_bytes == 1024 * 1024
    assert Settings(max_request_bytes=10).max_request_bytes == 10


@pytest.mark.parametrize(
    "path", ["/health", "/v1/index/status", "/metrics", "/openapi.json", "/docs", "/redoc"]
)
def test_public_paths_need_no_key(app: FastAPI, path: str) -> None:
    exchange = play(app, path, api_key=None, total=0, declared=0, method="GET")
    assert exchange.status == 200


def test_public_paths_have_the_limit_too(app: FastAPI) -> None:
    exchange = play(app, "/health", api_key=None, total=HUGE, declared=HUGE, method="GET")
    assert_too_large(exchange)
    assert exchange.delivered == 0


# --- through uvicorn ----------------------------------------------------------------------------


@pytest.fixture
def served(app: FastAPI) -> Iterator[tuple[str, int]]:
    with serving(app) as server:
        yield server.host, server.port


def _answer_to_headers_only(address: tuple[str, int], headers: dict[str, str]) -> str:
    """Sends a request's headers, announcing a 50 MB body it never sends, and reads the answer:
    a server that waited for the body would never give one."""
    lines = ["POST /v1/receivables HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {HUGE}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


def test_uvicorn_answers_before_the_body_arrives(served: tuple[str, int], stack: Stack) -> None:
    unauthenticated = _answer_to_headers_only(served, {})
    assert unauthenticated.startswith("HTTP/1.1 401 ")
    assert f"content-type: {PROBLEM_MEDIA_TYPE}" in unauthenticated.lower()

    too_large = _answer_to_headers_only(served, {"X-API-Key": stack.bank_a.api_key})
    assert too_large.startswith("HTTP/1.1 413 ")
    assert "connection: close" in too_large.lower()
