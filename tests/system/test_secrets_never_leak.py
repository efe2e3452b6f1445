"""No key and no password ever shows: not in a log, an answer, the OpenAPI document, a repr or the
command line's output.

The API starts as ``creditreg serve`` starts it (from a state dir, its keystores unlocked by a
configured password), behind a real uvicorn and beside an indexer, with every logger at its lowest
level (uvicorn's TRACE, below DEBUG): root, uvicorn, fastapi, starlette, web3, urllib3, sqlalchemy
and every other the process has. The test drives every route, on its success and its error paths,
and searches everything that came out (each log record with its arguments and traceback, stdout
and stderr, every answer's body and headers, the OpenAPI document, the repr of the services and
the settings) for every secret, in every spelling a leak could take: each private key (hex, with
and without 0x, any case), the keystore password, each API key (and a near miss of one, which a
caller sent), each fingerprint key. Then the same for the command line: ``creditreg up``'s banner,
``deploy`` (right and wrong password), ``keys list`` and ``demo``.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import BaseRoute, Match

from api.app import create_app
from registry.chain.client import Chain
from registry.chain.node import free_port
from registry.credentials import DevSecrets
from registry.db import make_engine
from registry.indexer import Indexer
from registry.keystore import Keystores
from registry.settings import Settings
from tests.api.test_api import CAP, check_body, registration
from tests.conftest import Stack
from tests.keystores import TEST_SCRYPT_N, cheap_keystores
from tests.serving import serving

PASSWORD = "the API's keystore password, 7f3c9e"
WRONG_PASSWORD = "a wrong keystore password, 51d0aa"
CREDITREG = [sys.executable, "-m", "creditreg"]
# Every logger these libraries use, by its root name; the ones already created are added to them.
LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "fastapi",
    "starlette",
    "web3",
    "urllib3",
    "requests",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "httpx",
    "httpcore",
    "asyncio",
    "api",
    "registry",
    "creditreg",
)
LOWEST = 1  # below uvicorn's TRACE (5), itself below DEBUG


def secrets_of(secrets: DevSecrets, *passwords: str, of: str = "") -> dict[str, str]:
    """Every secret of ``secrets`` (and the ``passwords``) by what it is (prefixed ``of``), in
    each spelling a leak could take."""
    found = {f"{of}password {i}": password for i, password in enumerate(passwords)}
    signers = [("deployer", secrets.deployer)] + [(i.name, i.signer) for i in secrets.institutions]
    for name, signer in signers:
        found[f"{of}{name}'s signing key"] = signer.private_key_hex
        found[f"{of}{name}'s signing key without 0x"] = signer.private_key_hex.removeprefix("0x")
    for institution in secrets.institutions:
        found[f"{of}{institution.name}'s API key"] = institution.api_key
    keys = secrets.keyring.to_mapping()["keys"]
    assert isinstance(keys, dict)
    for version, key in keys.items():
        found[f"{of}fingerprint key {version}"] = str(key)
    return found


def assert_nothing_shows(secrets: dict[str, str], outputs: dict[str, str]) -> None:
    """No secret in any output, compared without case (hex may be written either way)."""
    assert outputs
    assert all(len(secret) >= 16 for secret in secrets.values())
    lowered = {what: text.lower() for what, text in outputs.items()}
    leaks = [
        f"{secret_name} in {where}"
        for secret_name, secret in secrets.items()
        for where, text in lowered.items()
        if secret.lower() in text
    ]
    assert not leaks, leaks


class Everything(logging.Handler):
    """Keeps every record as it would be written, with its raw arguments and attributes too."""

    def __init__(self) -> None:
        super().__init__(level=LOWEST)
        self.buffer = io.StringIO()
        self.records = 0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        self.buffer.write(f"{self.format(record)} {record.__dict__!r}\n")


@contextmanager
def everything_logged() -> Iterator[Everything]:
    """Every logger at its lowest level and into one handler, for the block's duration."""
    handler = Everything()
    manager = logging.root.manager
    names = {*LOGGERS, *(n for n, o in manager.loggerDict.items() if isinstance(o, logging.Logger))}
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in sorted(names))]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(LOWEST)
        logger.disabled = False
        if logger is logging.root or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)


@dataclass
class Driver:
    """Sends the requests, and keeps every answer and which route took it."""

    client: httpx.Client
    routes: list[BaseRoute]
    answers: list[str] = field(default_factory=list)
    taken: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    def send(self, method: str, path: str, expected: int | None, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.answers.append(f"{response.status_code} {response.headers!r} {response.text}")
        if expected is not None:
            assert response.status_code == expected, (method, path, response.text)
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        for route in self.routes:
            if route.matches(scope)[0] is Match.FULL:
                self.taken.setdefault((method, getattr(route, "path", "")), set()).add(
                    response.status_code
                )
        return response


@contextmanager
def indexer_running(settings: Settings, stack: Stack) -> Iterator[None]:
    """The indexer, as ``creditreg index`` beside ``serve``: writes are answered once indexed."""
    engine = make_engine(settings.resolved_database_url)
    indexer = Indexer.from_settings(
        engine, Chain.connect(stack.node.url), stack.deployment, settings
    )
    stop = threading.Event()
    thread = threading.Thread(target=indexer.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
        engine.dispose()
        assert not thread.is_alive(), "the indexer did not stop"


def drive_every_route(driver: Driver, keys: dict[str, str], max_bytes: int) -> None:
    bank_a = {"X-API-Key": keys["Bank A"]}
    bank_b = {"X-API-Key": keys["Bank B"]}
    send = driver.send

    for path in ("/health", "/v1/index/status", "/metrics", "/openapi.json", "/docs", "/redoc"):
        send("GET", path, 200)
    send("GET", "/docs/oauth2-redirect", 200)
    send("GET", "/nowhere", 404)
    send("POST", "/health", 405)

    check = "/v1/receivables/check"
    send("POST", check, 200, json=check_body(), headers=bank_a)
    send("POST", check, 401, json=check_body())
    send("POST", check, 401, json=check_body(), headers={"X-API-Key": keys["near miss"]})
    send("POST", check, 403, json=check_body(), headers={"X-API-Key": keys["Consortium admin"]})
    send("POST", check, 403, json=check_body(), headers={"X-API-Key": keys["Registry center"]})
    send("POST", check, 422, json={"invoice_number": 5}, headers=bank_a)
    send("POST", check, 413, content=b"{" + b" " * max_bytes, headers=bank_a)

    first = {"Idempotency-Key": str(uuid.uuid4())}
    registered = send("POST", "/v1/receivables", 201, json=registration(), headers=bank_a | first)
    send("POST", "/v1/receivables", None, json=registration(), headers=bank_a | first)
    send("POST", "/v1/receivables", 409, json=registration(), headers=bank_b)
    send("POST", "/v1/receivables", 422, json=registration(face_value=-1), headers=bank_a)
    receivable = f"/v1/receivables/{registered.json()['receivable_id']}"
    unknown, malformed = f"/v1/receivables/0x{'ab' * 32}", "/v1/receivables/0x12"

    send("POST", f"{receivable}/financings", 201, json={"amount": 1_000}, headers=bank_a)
    send("POST", f"{receivable}/financings", 409, json={"amount": CAP * 10}, headers=bank_a)
    send("POST", f"{receivable}/financings", 409, json={"amount": 1_000}, headers=bank_b)
    send("POST", f"{unknown}/financings", 404, json={"amount": 1_000}, headers=bank_a)
    send("POST", f"{malformed}/financings", 422, json={"amount": 1_000}, headers=bank_a)
    send("POST", f"{receivable}/repayments", 201, json={"amount": 500}, headers=bank_a)
    send("POST", f"{receivable}/repayments", 409, json={"amount": CAP * 10}, headers=bank_a)
    send("POST", f"{receivable}/repayments", 422, json={"amount": "all"}, headers=bank_a)

    send("GET", receivable, 200, headers=bank_b)
    send("GET", receivable, 401)
    send("GET", unknown, 404, headers=bank_b)
    send("GET", malformed, 422, headers=bank_b)


def test_the_served_api_shows_no_secret(
    stack: Stack, sqlite_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    stack.deployment.save(tmp_path / "deployment.json")
    keystores = cheap_keystores(PASSWORD, "CREDITREG_KEYSTORE_PASSWORD")
    stack.secrets.api_secrets().save(tmp_path / "secrets.json", keystores)
    settings = Settings(
        state_dir=tmp_path,
        rpc_url=stack.node.url,
        database_url=sqlite_url,
        keystore_password=SecretStr(PASSWORD),
    )
    keys = {i.name: i.api_key for i in stack.secrets.institutions}
    # A key one character off Bank A's: what a caller sends is a secret too.
    keys["near miss"] = keys["Bank A"][:-1] + ("A" if keys["Bank A"][-1] != "A" else "B")
    app = create_app(settings)
    routes = list(app.routes)

    # The services are built in the lifespan, as `creditreg serve` builds them: the keystores
    # are unlocked while everything is logged.
    with everything_logged() as logged, serving(app, log_level="trace", log_config=None) as server:
        with indexer_running(settings, stack), httpx.Client(base_url=server.url) as client:
            driver = Driver(client, routes)
            drive_every_route(driver, keys, settings.max_request_bytes)
        services = app.state.services
        shown = [repr(services), repr(services.signers), repr(settings), str(settings)]
        shown += [settings.model_dump_json(), repr(keystores), repr(app.state)]
    captured = capfd.readouterr()

    # Every route was driven, each to an answer it gives on success and, for those that take a
    # key, to a refusal too.
    for route in routes:
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method == "HEAD":
                continue
            statuses = driver.taken.get((method, getattr(route, "path", "")), set())
            assert any(s < 300 for s in statuses), f"{method} {route} never answered 2xx"
            if getattr(route, "path", "").startswith("/v1/receivables"):
                assert any(s >= 400 for s in statuses), f"{method} {route} never refused"
    # The search reads what it should: records from the libraries, at DEBUG and TRACE too.
    log = logged.buffer.getvalue()
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn.asgi", "sqlalchemy.engine", "web3"):
        assert f" {name}" in log, f"nothing logged by {name}"
    assert "DEBUG" in log
    assert "TRACE" in log

    assert_nothing_shows(
        secrets_of(stack.secrets, PASSWORD) | {"a caller's near-miss key": keys["near miss"]},
        {
            "the log": log,
            "stdout": captured.out,
            "stderr": captured.err,
            "the answers": "\n".join(driver.answers),
            "the reprs": "\n".join(shown),
        },
    )


# --- the command line ---------------------------------------------------------------------------


def _environment(state: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITREG_")}
    return env | {"CREDITREG_STATE_DIR": str(state), "COLUMNS": "200"} | settings


def _run(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [*CREDITREG, *arguments], env=env, capture_output=True, text=True, timeout=180
    )
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_the_command_line_shows_no_secret(tmp_path: Path) -> None:
    dev, operated = tmp_path / "dev", tmp_path / "operated"
    port = free_port()
    env = _environment(dev, CREDITREG_API_PORT=str(port))
    up = subprocess.Popen(
        [*CREDITREG, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    outputs: dict[str, str] = {}
    try:
        assert up.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = up.stdout.readline()
            assert line, f"creditreg up ended before its banner: {banner}"
            banner += line
        node = re.search(r"dev node at (http://127\.0\.0\.1:\d+)", banner)
        assert node is not None, banner
        said = " ".join(banner.split())
        assert f"generated dev password in {dev / 'keystore-password'}" in said
        outputs["keys list"] = _run(env, "keys", "list")
        outputs["demo"] = _run(env, "demo")
        # An operator's deployment: the password from the environment (the cost a cheap one).
        deploy_env = _environment(
            operated,
            CREDITREG_RPC_URL=node.group(1),
            CREDITREG_KEYSTORE_PASSWORD=PASSWORD,
            CREDITREG_KEYSTORE_SCRYPT_N=str(TEST_SCRYPT_N),
        )
        outputs["deploy"] = _run(deploy_env, "deploy")
        outputs["deploy again"] = _run(deploy_env, "deploy")
        outputs["deploy, wrong password"] = _run(
            deploy_env | {"CREDITREG_KEYSTORE_PASSWORD": WRONG_PASSWORD}, "deploy"
        )
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=60)
    outputs["up"] = banner + rest

    assert "exit 0" in outputs["keys list"]
    assert "Bank A" in outputs["keys list"]
    assert "exit 0" in outputs["demo"]
    assert "from CREDITREG_KEYSTORE_PASSWORD" in outputs["deploy"]
    assert outputs["deploy, wrong password"].startswith("exit 1")
    assert "does not unlock" in outputs["deploy, wrong password"]
    dev_keystores = Keystores.from_settings(Settings(state_dir=dev))
    dev_secrets = DevSecrets.load(dev / "secrets.json", dev / "admin-secrets.json", dev_keystores)
    dev_password = dev_keystores.password.secret.get_secret_value()
    operated_secrets = DevSecrets.load(
        operated / "secrets.json", operated / "admin-secrets.json", cheap_keystores(PASSWORD)
    )
    assert_nothing_shows(
        secrets_of(dev_secrets, dev_password, of="dev: ")
        | secrets_of(operated_secrets, PASSWORD, WRONG_PASSWORD, of="operated: "),
        outputs,
    )
