"""The main job end to end, as a newcomer runs it: `creditreg up`, the demo, Ctrl-C.

Runs the real command in a subprocess (own dev node, SQLite index, uvicorn) and checks that the
demo's refusal is what the ledger answered, that the index followed the chain, and that an
interrupt leaves no process behind. And, in this process, that what ``up`` builds the API from
holds no key of the consortium admin, though ``up`` deploys with it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.services import Services
from registry.chain.node import free_port
from registry.credentials import AdminSecrets, ApiSecrets, DevSecrets
from registry.settings import Settings
from registry.system import running_system
from tests.test_api_admin_key import assert_no_admin_key

CREDITREG = [sys.executable, "-m", "registry.cli"]


@dataclass
class Up:
    process: subprocess.Popen[str]
    api_url: str
    node_port: int
    env: dict[str, str]


def _wait_for_health(
    url: str, process: subprocess.Popen[str], timeout: float = 90
) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"creditreg up exited early: {process.communicate()[0]}")
        try:
            response = httpx.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                body: dict[str, int] = response.json()
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("the API did not answer /health in time")


def _port_open(port: int) -> bool:
    try:
        httpx.post(f"http://127.0.0.1:{port}", json={}, timeout=1)
    except httpx.HTTPError:
        return False
    return True


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    port = free_port()
    env = {
        **os.environ,
        "CREDITREG_STATE_DIR": str(tmp_path / "state"),
        "CREDITREG_API_PORT": str(port),
        "COLUMNS": "200",
    }
    env.pop("CREDITREG_RPC_URL", None)
    env.pop("CREDITREG_DATABASE_URL", None)
    process = subprocess.Popen(
        [*CREDITREG, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    api_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(api_url, process)
        assert process.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            banner += process.stdout.readline()
        node_port = int(re.search(r"dev node at http://127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        yield Up(process, api_url, node_port, env)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        # A test that failed before communicate() left the pipe open: its warning would land on
        # whichever test runs next.
        if process.stdout is not None:
            process.stdout.close()


def _index_caught_up(api_url: str) -> bool:
    health = httpx.get(f"{api_url}/health").json()
    return bool(health["indexed_block"] == health["head_block"])


def test_up_demo_and_ctrl_c(up: Up) -> None:
    demo = subprocess.run(
        [*CREDITREG, "demo", "--api-url", up.api_url],
        env=up.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "declaration-linked-to-other-invoice" in demo.stdout
    assert "receivable-held-by-other-bank" in demo.stdout
    assert "application/problem+json" in demo.stdout

    deadline = time.monotonic() + 30
    while not _index_caught_up(up.api_url):
        assert time.monotonic() < deadline, "the indexer did not catch up with the chain"
        time.sleep(0.2)

    up.process.send_signal(signal.SIGINT)
    output, _ = up.process.communicate(timeout=60)
    assert up.process.returncode == 0, output
    assert "stopped" in output
    assert not _port_open(up.node_port), "the dev node is still running"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{up.api_url}/health", timeout=1)


def test_sigterm_also_stops_everything(up: Up) -> None:
    up.process.send_signal(signal.SIGTERM)
    up.process.communicate(timeout=60)
    assert up.process.returncode == 0
    assert not _port_open(up.node_port)


def test_up_builds_the_api_without_the_admin_key(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", rpc_url=None, database_url=None)

    with running_system(settings) as system:
        services = Services.from_running(system)
        secrets = DevSecrets.load(
            settings.resolved_secrets_path, settings.resolved_admin_secrets_path
        )
        # It deployed with the admin's key, kept in its own file...
        assert isinstance(AdminSecrets.load(settings.resolved_admin_secrets_path), AdminSecrets)
        assert system.deployment.contracts
        # ... and kept running only the API's part, from which the API was built.
        assert isinstance(system.secrets, ApiSecrets)
        assert_no_admin_key(system, secrets)
        assert_no_admin_key(services, secrets)
