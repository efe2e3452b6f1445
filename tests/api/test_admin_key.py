"""The serving process holds no key of the consortium admin: nothing reachable from the app (its
services, routes, middleware, state) is the deployer's signer or its private key, and
``creditreg serve`` runs from the API's secrets file alone, without ever opening the admin's.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, FrameType, FunctionType, ModuleType

import httpx
import pytest
import sqlalchemy as sa
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.services import Services
from registry.chain.client import Chain, Signer
from registry.chain.node import free_port
from registry.credentials import DevSecrets
from registry.errors import ConfigurationError
from registry.keystore import Keystores, signer_reference
from registry.settings import Settings
from tests.api.test_api import check_body, key
from tests.conftest import Stack
from tests.core.test_dev_secrets import unsplit
from tests.keystores import KEYSTORE_SETTINGS

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def reachable(*roots: object) -> Iterator[object]:
    """Every object reachable from ``roots``: through attributes, containers, closures and weak
    references (a connection remembers its signers weakly), but not through classes, modules or
    a function's globals, which lead to everything the process has imported."""
    seen: set[int] = set()
    pending = list(roots)
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, type | ModuleType | FrameType | CodeType):
            continue
        if isinstance(obj, FunctionType):
            cells = [c.cell_contents for c in obj.__closure__ or () if c.cell_contents is not None]
            pending += [*cells, *(obj.__defaults__ or ()), *(obj.__kwdefaults__ or {}).values()]
        elif isinstance(obj, weakref.ref):
            pending.append(obj())
        else:
            pending += gc.get_referents(obj)


def keys_reachable(root: object, *signers: Signer) -> set[str]:
    """Which of ``signers`` are reachable from ``root``: as a signer of theirs, or as their key
    (raw bytes or hex text)."""
    raw = {bytes.fromhex(s.private_key_hex[2:]): s.address for s in signers}
    text = {s.private_key_hex[2:]: s.address for s in signers}
    addresses = {s.address for s in signers}
    found = set()
    for obj in reachable(root):
        if isinstance(obj, Signer) and obj.address in addresses:
            found.add(obj.address)
        elif isinstance(obj, bytes) and obj in raw:
            found.add(raw[obj])
        elif isinstance(obj, str) and len(obj) >= 64:
            found |= {address for key_hex, address in text.items() if key_hex in obj.lower()}
    return found


def assert_no_admin_key(root: object, secrets: DevSecrets) -> None:
    bank = secrets.institution("Bank A").signer
    found = keys_reachable(root, secrets.deployer, bank)
    # The search finds a key where there is one: the API signs for Bank A.
    assert bank.address in found
    assert secrets.deployer.address not in found


def test_no_admin_key_is_reachable_from_the_app(
    stack: Stack, engine: sa.Engine, tmp_path: Path
) -> None:
    # The API's own connection: the stack's, which deployed, remembers the deployer as a signer
    # that sent through it (as any connection would that the admin used).
    chain = Chain.connect(stack.node.url)
    # Even handed every dev secret, the admin's included.
    services = Services.build(engine, chain, stack.deployment, stack.secrets)
    app = create_app(Settings(state_dir=tmp_path), services)

    assert_no_admin_key(app, stack.secrets)
    assert services.ledger.chain is chain
    assert "Consortium admin" not in services.signers


def test_the_admin_still_authenticates_without_a_signer_here(
    stack: Stack, engine: sa.Engine, tmp_path: Path
) -> None:
    """The admin's API key stays valid for what needs no signature (reading), and a bank route
    answers it 403 as before."""
    services = Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    with TestClient(create_app(Settings(state_dir=tmp_path), services)) as client:
        read = client.get(f"/v1/receivables/0x{'ab' * 32}", headers=key(stack, "Consortium admin"))
        write = client.post(
            "/v1/receivables/check", json=check_body(), headers=key(stack, "Consortium admin")
        )
    assert read.status_code == 404
    assert (write.status_code, write.json()["rule"]) == (403, "access-denied")


def test_serve_refuses_a_secrets_file_holding_the_admin_key(
    stack: Stack, sqlite_url: str, tmp_path: Path
) -> None:
    stack.deployment.save(tmp_path / "deployment.json")
    (tmp_path / "secrets.json").write_text(json.dumps(unsplit(stack.secrets)))
    settings = Settings(
        state_dir=tmp_path, rpc_url=stack.node.url, database_url=sqlite_url, **KEYSTORE_SETTINGS
    )

    with pytest.raises(ConfigurationError, match="admin"):
        Services.from_settings(settings)


# Run as `creditreg serve`, with an audit hook that ends the process the moment anything opens the
# admin secrets file or the admin's keystore (which are not even there).
SERVE_WATCHED = """
import os, sys
admin = set(sys.argv.pop(1).split(os.pathsep))
def watch(event, args):
    if event == "open" and isinstance(args[0], (str, os.PathLike)) and os.fspath(args[0]) in admin:
        os.write(2, b"OPENED THE ADMIN SECRETS FILE")
        os._exit(97)
sys.addaudithook(watch)
sys.argv = ["creditreg", "serve"]
from creditreg.cli import app
app()
"""


def test_serve_runs_from_the_api_secrets_file_alone(
    stack: Stack, sqlite_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    stack.deployment.save(state / "deployment.json")
    settings = Settings(state_dir=state)
    # Under the dev password `creditreg up` leaves in the state dir, where serve finds it.
    keystores = Keystores.from_settings(settings, generate_password=True)
    stack.secrets.api_secrets().save(state / "secrets.json", keystores)
    admin_path = settings.resolved_admin_secrets_path
    admin_keystore = state / signer_reference(stack.secrets.deployer.address)
    assert not admin_path.exists()
    assert not admin_keystore.exists()
    port = free_port()
    env = {
        **os.environ,
        "CREDITREG_STATE_DIR": str(state),
        "CREDITREG_RPC_URL": stack.node.url,
        "CREDITREG_DATABASE_URL": sqlite_url,
        "CREDITREG_API_PORT": str(port),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE_WATCHED,
            os.pathsep.join(map(str, (admin_path, admin_keystore))),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "creditreg serve did not answer in time"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        check = httpx.post(
            f"{url}/v1/receivables/check", json=check_body(), headers=key(stack, "Bank A")
        )
        assert check.status_code == 200, check.text
        assert process.poll() is None
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "ADMIN SECRETS FILE" not in output
    assert process.returncode == 0, output
    assert not admin_path.exists()
    assert not admin_keystore.exists()
