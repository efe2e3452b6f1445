"""Starts and stops a local dev node (anvil or ganache) on a free port.

Both binaries come from the project's ``node_modules`` (npm packages ``@foundry-rs/anvil`` and
``ganache``) or from PATH. The node runs in its own process group so that stopping it also stops any
child it spawned, and Ctrl-C in the terminal reaches us first, not the node.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from registry.errors import NodeStartError
from registry.settings import NodeKind

__all__ = ["DEV_CHAIN_IDS", "DevNode", "free_port", "node_binary", "wait_for_rpc"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_CHAIN_IDS: dict[NodeKind, int] = {"anvil": 31337, "ganache": 1337}
# The newest hardfork ganache runs; anvil is pinned to it too so both execute the same bytecode.
HARDFORK = "shanghai"
# Gas per block on both nodes; interval-mined throughput is bounded by it (see bench/).
BLOCK_GAS_LIMIT = 30_000_000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def node_binary(kind: NodeKind) -> Path:
    local = PROJECT_ROOT / "node_modules" / ".bin" / kind
    if local.exists():
        return local
    found = shutil.which(kind)
    if found is None:
        raise NodeStartError(f"{kind} not found in node_modules/.bin or on PATH; run `npm ci`")
    return Path(found)


def _command(kind: NodeKind, port: int, block_time: int) -> list[str]:
    binary = str(node_binary(kind))
    chain_id = str(DEV_CHAIN_IDS[kind])
    gas_limit = str(BLOCK_GAS_LIMIT)
    if kind == "anvil":
        command = [binary, "--host", "127.0.0.1", "--port", str(port), "--chain-id", chain_id]
        command += ["--hardfork", HARDFORK, "--gas-limit", gas_limit, "--silent"]
        if block_time:
            command += ["--block-time", str(block_time)]
        return command
    command = [binary, "--server.host", "127.0.0.1", "--server.port", str(port)]
    command += ["--chain.chainId", chain_id, "--chain.hardfork", HARDFORK]
    command += ["--miner.blockGasLimit", gas_limit, "--logging.quiet"]
    if block_time:
        command += ["--miner.blockTime", str(block_time)]
    return command


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


class DevNode:
    """A dev node process. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    def __init__(self, kind: NodeKind = "anvil", block_time: int = 0, port: int | None = None):
        self.kind: NodeKind = kind
        self.block_time = block_time
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain_id = DEV_CHAIN_IDS[kind]
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> DevNode:
        # The node's output goes to a temporary file, read back only to explain a failed start.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()
        self._process = subprocess.Popen(
            _command(self.kind, self.port, self.block_time),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_rpc(self.url, timeout, self._process)
        except NodeStartError as error:
            output = self._output_tail()
            self.stop()
            raise NodeStartError(f"{self.kind} did not start: {error.message}\n{output}") from None
        return self

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
