"""Starts and stops a local dev node (anvil or ganache) on a free port.

Both binaries come from the project's ``node_modules`` (npm packages ``@foundry-rs/anvil`` and
``ganache``) or from PATH; anvil's native binary is run directly rather than through the npm
package's JavaScript launcher, so that the node is our own child process. The node runs in its
own process group so that stopping it also stops any child it spawned, and Ctrl-C in the terminal
reaches us first, not the node.

With a :class:`NodeState` the node keeps its chain in a directory and goes on from it at the
next start (anvil's state file, saved every few seconds and on exit; ganache's database).

The node does not outlive the process that started it: on Linux it is asked (``PR_SET_PDEATHSIG``)
to receive SIGTERM when its parent dies, however the parent died (a SIGKILL, an out-of-memory
kill), instead of living on as an orphan holding its port.

A free port is found by binding port 0 and releasing it, which another process may take before the
node binds it: then the node fails to bind, while the other process may answer our JSON-RPC probe.
So a start is accepted only once the port's listening socket is seen to belong to the node's own
process group (Linux: ``/proc``), and is retried on another port otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from registry.errors import NodeStartError
from registry.settings import NodeKind

__all__ = [
    "DEV_CHAIN_IDS",
    "DevNode",
    "NetworkShape",
    "NodeState",
    "free_port",
    "node_binary",
    "wait_for_rpc",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_CHAIN_IDS: dict[NodeKind, int] = {"anvil": 31337, "ganache": 1337}
# The newest hardfork ganache runs; anvil is pinned to it too so both execute the same bytecode.
HARDFORK = "shanghai"
# Gas per block on both nodes; interval-mined throughput is bounded by it (see bench/).
BLOCK_GAS_LIMIT = 30_000_000
# Starts on a port another process took between our probe and the node's bind: tried again, on
# other ports, this many times.
PORT_ATTEMPTS = 5
ANVIL_STATE_FILE = "anvil-state.json"
GANACHE_DATABASE = "ganache-db"
_PR_SET_PDEATHSIG = 1
_TCP_LISTEN = "0A"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def node_binary(kind: NodeKind) -> Path:
    if kind == "anvil":
        # The npm package's launcher spawns this binary as a child of its own, which a death
        # signal aimed at the launcher would not reach.
        native = sorted((PROJECT_ROOT / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
        if native and os.access(native[0], os.X_OK):
            return native[0]
    local = PROJECT_ROOT / "node_modules" / ".bin" / kind
    if local.exists():
        return local
    found = shutil.which(kind)
    if found is None:
        raise NodeStartError(f"{kind} not found in node_modules/.bin or on PATH; run `npm ci`")
    return Path(found)


@dataclass(frozen=True)
class NetworkShape:
    """A dev node made to look like a consortium network in what the code must cope with."""

    chain_id: int | None = None
    """The operator's chain id; None for the dev node's own (:data:`DEV_CHAIN_IDS`)."""
    free_gas: bool = False
    """Zero base fee and gas price, as a permissioned network that does not charge for gas
    (Besu's ``zeroBaseFee`` with ``min-gas-price`` 0). anvil only."""


def _command(
    kind: NodeKind,
    port: int,
    block_time: int,
    state: NodeState | None = None,
    shape: NetworkShape = NetworkShape(),
) -> list[str]:
    binary = str(node_binary(kind))
    chain_id = str(shape.chain_id or DEV_CHAIN_IDS[kind])
    gas_limit = str(BLOCK_GAS_LIMIT)
    if kind == "anvil":
        command = [binary, "--host", "127.0.0.1", "--port", str(port), "--chain-id", chain_id]
        command += ["--hardfork", HARDFORK, "--gas-limit", gas_limit, "--silent"]
        if block_time:
            command += ["--block-time", str(block_time)]
        if shape.free_gas:
            command += ["--block-base-fee-per-gas", "0", "--gas-price", "0"]
            command += ["--disable-min-priority-fee"]
        if state is not None:
            # Loaded at start, dumped on exit (SIGTERM included) and every `interval` seconds,
            # blocks, receipts and logs with the accounts: the chain goes on where it stopped.
            command += ["--state", str(state.directory / ANVIL_STATE_FILE)]
            if state.interval:
                command += ["--state-interval", str(state.interval)]
        return command
    if shape.free_gas:
        raise NodeStartError("free gas is an anvil option here; ganache charges its base fee")
    command = [binary, "--server.host", "127.0.0.1", "--server.port", str(port)]
    command += ["--chain.chainId", chain_id, "--chain.hardfork", HARDFORK]
    command += ["--miner.blockGasLimit", gas_limit, "--logging.quiet"]
    if block_time:
        command += ["--miner.blockTime", str(block_time)]
    if state is not None:
        # Ganache writes every block to its database as it mines: nothing to dump.
        command += ["--database.dbPath", str(state.directory / GANACHE_DATABASE)]
    return command


@dataclass(frozen=True)
class NodeState:
    """Where a dev node keeps its chain across restarts, and how often anvil saves it."""

    directory: Path
    interval: int = 5
    """Seconds between anvil's saves while it runs (0: on exit only). A hard kill loses at most
    the blocks of the last interval; the index then rolls back to the saved head."""

    def exists(self) -> bool:
        """Whether a chain was saved here."""
        return (self.directory / ANVIL_STATE_FILE).is_file() or (
            self.directory / GANACHE_DATABASE
        ).is_dir()

    def clear(self) -> None:
        """Forgets the saved chain."""
        (self.directory / ANVIL_STATE_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.directory / GANACHE_DATABASE, ignore_errors=True)


def _rpc_answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(  # noqa: S310 -- a local http URL we built ourselves
        url, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310
            return "result" in json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return False


def wait_for_rpc(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Waits until ``url`` answers eth_chainId; fails early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise NodeStartError(f"node exited with code {process.returncode} before answering")
        if _rpc_answers(url):
            return
        time.sleep(0.1)
    raise NodeStartError(f"no JSON-RPC answer from {url} within {timeout:.0f}s")


_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux only).

    Only async-signal-safe work may run here (the parent may have threads): one ``prctl`` call,
    and an exit if the parent is already gone.
    """
    parent = os.getppid()
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the TCP sockets listening on ``port`` (Linux ``/proc/net``)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)  # the header
            for line in lines:
                fields = line.split()
                if fields[3] == _TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _owns_port(process_group: int, port: int) -> bool | None:
    """Whether the socket listening on ``port`` belongs to a process of ``process_group``; None
    where this cannot be told (no ``/proc``)."""
    if not Path("/proc/net/tcp").exists():
        return None
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            # Field 5 of stat is the process group; the name (field 2) may hold spaces.
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != process_group:
                continue
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in sockets:
                    return True
    return False


class DevNode:
    """A dev node process. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    ``port``: a fixed port (a start fails if another process holds it); by default one from
    ``ports`` (free ports), chosen again if another process takes it first. ``state``: where the
    chain is kept across restarts; without it each start is a new chain. ``shape``: a chain id
    and gas pricing of a consortium network's, instead of the dev node's.
    """

    def __init__(
        self,
        kind: NodeKind = "anvil",
        block_time: int = 0,
        port: int | None = None,
        ports: Callable[[], int] = free_port,
        state: NodeState | None = None,
        shape: NetworkShape = NetworkShape(),
    ):
        self.kind: NodeKind = kind
        self.block_time = block_time
        self.state = state
        self.shape = shape
        self._fixed_port = port is not None
        self._ports = ports
        self.port = port or ports()
        self.chain_id = shape.chain_id or DEV_CHAIN_IDS[kind]
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The node's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> DevNode:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            process = self._spawn()
            try:
                wait_for_rpc(self.url, timeout, process)
                # Whoever answered, the port must be our node's: another process may have taken
                # it between the probe and the node's bind (the node then failed to bind).
                if _owns_port(process.pid, self.port) is False:
                    raise NodeStartError(f"port {self.port} is another process's")
                return self
            except NodeStartError as error:
                output = self._output_tail()
                self.stop()
                if self._fixed_port or attempt == PORT_ATTEMPTS:
                    message = f"{self.kind} did not start: {error.message}\n{output}"
                    raise NodeStartError(message) from None
                self.port = self._ports()
        raise AssertionError("unreachable: every attempt returns or raises")

    def _spawn(self) -> subprocess.Popen[bytes]:
        # The node's output goes to a temporary file, read back only to explain a failed start.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()
        self._process = subprocess.Popen(
            _command(self.kind, self.port, self.block_time, self.state, self.shape),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if _LIBC is not None else None,
        )
        return self._process

    def _output_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DevNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
