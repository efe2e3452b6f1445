"""The main job end to end, as a newcomer runs it: `creditreg up`, the demo, Ctrl-C.

Runs the real command in a subprocess (own dev node, SQLite index, uvicorn) and checks that the
demo's refusal is what the ledger answered, that the index followed the chain, and that ``up``
leaves no process behind and no port open: stopped by Ctrl-C or SIGTERM, everything it started is
gone by the time it exits; killed outright (SIGKILL), its dev node follows it within seconds. And,
in this process, that what ``up`` builds the API from holds no key of the consortium admin, though
``up`` deploys with it.

Which processes ``up`` started is read from ``/proc`` (Linux), as an operator would find them: the
process listening on the node's port (from the banner's URL) must be a child of ``up``; it, the
other members of its process group and their descendants are what must be gone. A process is
told from a later one that reuses its pid by its start time.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from creditreg.system import api_for, running_system
from registry.chain.node import free_port
from registry.credentials import AdminSecrets, ApiSecrets, DevSecrets
from registry.keystore import Keystores
from registry.settings import Settings
from tests.api.test_admin_key import assert_no_admin_key

CREDITREG = [sys.executable, "-m", "creditreg"]
TCP_LISTEN = "0A"
# Fields of /proc/<pid>/stat after the parenthesized name: state, ppid, pgrp, ..., starttime.
STATE, PPID, PGRP, STARTTIME = 0, 1, 2, 19

HAS_PROC = Path("/proc/net/tcp").exists()
needs_proc = pytest.mark.skipif(not HAS_PROC, reason="reads processes and sockets from Linux /proc")


@dataclass(frozen=True)
class Process:
    """One process, told from a later one given the same pid by its start time."""

    pid: int
    started: int
    command: str


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The name may hold spaces and parentheses: the fields that follow start after the last ")".
    return text.rsplit(")", 1)[1].split()


def _process(pid: int) -> Process | None:
    fields = _stat(pid)
    if fields is None:
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = "?"
    return Process(pid, int(fields[STARTTIME]), command.strip())


def _running(process: Process) -> bool:
    """Whether ``process`` still runs. A zombie does not (it holds no socket and runs nothing;
    whoever inherited it has yet to reap it), nor a later process that got its pid."""
    fields = _stat(process.pid)
    return (
        fields is not None
        and fields[STATE] not in {"Z", "X"}
        and (int(fields[STARTTIME]) == process.started)
    )


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _listening_sockets(port: int) -> set[str]:
    """The sockets listening on TCP ``port`` on any address, as ``/proc/<pid>/fd`` links name
    them."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            next(lines)  # the header
            for line in lines:
                columns = line.split()
                local_port = int(columns[1].rsplit(":", 1)[1], 16)
                if columns[3] == TCP_LISTEN and local_port == port:
                    found.add(f"socket:[{columns[9]}]")
    return found


def _listeners(port: int) -> set[int]:
    """The pids of the processes holding a socket that listens on ``port``."""
    sockets = _listening_sockets(port)
    pids = set()
    for pid in _all_pids() if sockets else []:
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{pid}/fd")
            if any(os.readlink(fd) in sockets for fd in fds.iterdir()):
                pids.add(pid)
    return pids


def _group_and_descendants(root: int) -> set[Process]:
    """``root``, every process of its process group, and all their descendants."""
    stats = {pid: fields for pid in _all_pids() if (fields := _stat(pid)) is not None}
    found = {pid for pid, fields in stats.items() if int(fields[PGRP]) == root} | {root}
    while True:
        children = {
            pid for pid, fields in stats.items() if int(fields[PPID]) in found and pid not in found
        }
        if not children:
            break
        found |= children
    return {process for pid in found if (process := _process(pid)) is not None}


def _started_by(up_pid: int, node_port: int) -> set[Process]:
    """What ``up`` (``up_pid``) started: its dev node, found as the process listening on the
    node's port, with the node's process group and descendants."""
    listeners = _listeners(node_port)
    assert len(listeners) == 1, f"expected one process listening on {node_port}: {listeners}"
    (node,) = listeners
    fields = _stat(node)
    assert fields is not None
    assert int(fields[PPID]) == up_pid, f"the process on port {node_port} is not up's child"
    return _group_and_descendants(node)


def _assert_nothing_left(up: Up, *, within: float = 0) -> None:
    """Nothing ``up`` started still runs and neither of its ports is listened on, now or at
    most ``within`` seconds from now."""
    deadline = time.monotonic() + within
    while True:
        running = [process for process in up.started if _running(process)]
        ports = [port for port in (up.node_port, up.api_port) if _listening_sockets(port)]
        if not running and not ports:
            return
        assert time.monotonic() < deadline, f"still running: {running}; listened on: {ports}"
        time.sleep(0.1)


@dataclass
class Up:
    process: subprocess.Popen[str]
    api_url: str
    api_port: int
    node_port: int
    env: dict[str, str]
    started: set[Process] = field(default_factory=set)
    """The dev node (and its group and descendants), read from /proc once ``up`` answered."""


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


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with running_up(tmp_path / "state") as started:
        yield started


@contextlib.contextmanager
def running_up(state_dir: Path, *arguments: str, env: dict[str, str] | None = None) -> Iterator[Up]:
    """``creditreg up`` on ``state_dir`` (with ``arguments`` and the variables ``env``) until it
    answers; killed on the way out if the test did not stop it, and its node with it."""
    port = free_port()
    env = {
        **os.environ,
        **(env or {}),
        "CREDITREG_STATE_DIR": str(state_dir),
        "CREDITREG_API_PORT": str(port),
        "COLUMNS": "200",
    }
    env.pop("CREDITREG_RPC_URL", None)
    env.pop("CREDITREG_DATABASE_URL", None)
    process = subprocess.Popen(
        [*CREDITREG, "up", *arguments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api_url = f"http://127.0.0.1:{port}"
    started: set[Process] = set()
    try:
        _wait_for_health(api_url, process)
        assert process.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = process.stdout.readline()
            # At the end of the output readline() answers "" at once, and forever.
            assert line, f"creditreg up ended its output before the banner: {banner}"
            banner += line
        node_port = int(re.search(r"dev node at http://127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        if HAS_PROC:
            started = _started_by(process.pid, node_port)
            # The API is served from within up itself.
            assert _listeners(port) == {process.pid}
        yield Up(process, api_url, port, node_port, env, started)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        # A node that outlived a failed test must not outlive the run: ended by its pid, and only
        # while it is still the process this test started.
        for leftover in started:
            if _running(leftover):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(leftover.pid, signal.SIGKILL)
        # A test that failed before communicate() left the pipe open: its warning would land on
        # whichever test runs next.
        if process.stdout is not None:
            process.stdout.close()


def _index_caught_up(api_url: str) -> bool:
    health = httpx.get(f"{api_url}/health").json()
    return bool(health["indexed_block"] == health["head_block"])


@needs_proc
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
    # up waits for its node before it exits: nothing is left to wait for.
    _assert_nothing_left(up)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{up.api_url}/health", timeout=1)


@needs_proc
def test_sigterm_also_stops_everything(up: Up) -> None:
    up.process.send_signal(signal.SIGTERM)
    output, _ = up.process.communicate(timeout=60)
    assert up.process.returncode == 0, output
    assert "stopped" in output
    _assert_nothing_left(up)


@needs_proc
def test_sigkill_of_up_takes_its_dev_node_down_too(up: Up) -> None:
    """Nothing of up runs to stop its node: the kernel's death signal (PR_SET_PDEATHSIG) asks the
    node to terminate, and it must, rather than live on as an orphan holding its port."""
    up.process.kill()
    up.process.communicate(timeout=60)
    assert up.process.returncode == -signal.SIGKILL
    _assert_nothing_left(up, within=30)


def test_up_builds_the_api_without_the_admin_key(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", rpc_url=None, database_url=None)

    with running_system(settings) as system:
        app = api_for(system)
        # Under the dev password it generated, in the state dir.
        keystores = Keystores.from_settings(settings)
        secrets = DevSecrets.load(
            settings.resolved_secrets_path, settings.resolved_admin_secrets_path, keystores
        )
        # It deployed with the admin's key, kept in its own file...
        admin = AdminSecrets.load(settings.resolved_admin_secrets_path, keystores)
        assert isinstance(admin, AdminSecrets)
        assert system.deployment.contracts
        # ... and kept running only the API's part, from which the API was built.
        assert isinstance(system.secrets, ApiSecrets)
        assert_no_admin_key(system, secrets)
        assert_no_admin_key(app, secrets)
