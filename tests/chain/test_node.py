"""The dev node starts on a free port that is really its own, answers JSON-RPC, and leaves no
process behind, even when the process that started it is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from web3 import Web3

from registry.chain.node import DEV_CHAIN_IDS, DevNode, NodeState, free_port, wait_for_rpc
from registry.errors import NodeStartError
from registry.settings import NodeKind


@pytest.mark.parametrize("kind", ["anvil", "ganache"])
def test_node_starts_answers_and_stops(kind: NodeKind) -> None:
    with DevNode(kind) as node:
        assert node.running
        assert Web3(Web3.HTTPProvider(node.url)).eth.chain_id == DEV_CHAIN_IDS[kind]
        pid = node.pid
        assert pid is not None
    assert not node.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_unreachable_url_fails_clearly() -> None:
    with DevNode() as node:
        url = node.url
    with pytest.raises(NodeStartError, match="no JSON-RPC answer"):
        wait_for_rpc(url, timeout=0.5)


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie still answers kill(0) until reaped by init; its state says it is dead.
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        time.sleep(0.05)
    return False


def test_a_port_taken_by_another_node_is_not_mistaken_for_ours() -> None:
    """Between the free-port probe and the node's bind another process may take the port and
    answer JSON-RPC there: the start must see that the listener is not its node, and move on."""
    with DevNode("anvil") as other:
        offered = iter([other.port])
        node = DevNode("anvil", ports=lambda: next(offered, free_port()))
        assert node.port == other.port
        with node:
            assert node.port != other.port
            own = Web3(Web3.HTTPProvider(node.url))
            own.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            assert own.eth.block_number == 1
            assert Web3(Web3.HTTPProvider(other.url)).eth.block_number == 0
        assert other.running


def test_a_fixed_port_held_by_another_process_fails_the_start() -> None:
    with DevNode("anvil") as other, pytest.raises(NodeStartError, match="did not start"):
        DevNode("anvil", port=other.port).start(timeout=10)


def test_the_node_does_not_outlive_the_process_that_started_it(tmp_path: Path) -> None:
    """SIGKILL of the starting process (creditreg up killed, an out-of-memory kill) takes the node
    down too, instead of leaving it running, holding its port."""
    script = tmp_path / "start_node.py"
    script.write_text(
        "import sys, time\n"
        "from registry.chain.node import DevNode\n"
        "node = DevNode('anvil').start()\n"
        "print(node.pid, node.port, flush=True)\n"
        "time.sleep(600)\n"
    )
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    ) as starter:
        try:
            assert starter.stdout is not None
            pid, port = (int(value) for value in starter.stdout.readline().split())
            wait_for_rpc(f"http://127.0.0.1:{port}", timeout=10)
            starter.send_signal(signal.SIGKILL)
            starter.wait(timeout=10)
            assert _gone(pid, timeout=10), f"the node {pid} outlived its parent"
        finally:
            starter.kill()


@pytest.mark.parametrize("kind", ["anvil", "ganache"])
def test_a_node_with_a_state_directory_goes_on_where_it_stopped(
    kind: NodeKind, tmp_path: Path
) -> None:
    """Blocks mined, the node stopped and started again on the same directory: the same head,
    the same hashes, the same balances; cleared, the next start is a new chain."""
    state = NodeState(tmp_path / "chain")
    state.directory.mkdir()
    with DevNode(kind, state=state) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        sender, receiver = w3.eth.accounts[:2]
        tx = w3.eth.send_transaction({"from": sender, "to": receiver, "value": 12_345})
        w3.eth.wait_for_transaction_receipt(tx)
        head = w3.eth.get_block("latest")
        balance = w3.eth.get_balance(receiver)
    assert state.exists()

    with DevNode(kind, state=state) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.eth.get_block(head["number"])["hash"] == head["hash"]
        assert w3.eth.get_balance(receiver) == balance
        assert w3.eth.get_transaction_receipt(tx)["blockNumber"] == head["number"]

    state.clear()
    assert not state.exists()
    with DevNode(kind, state=state) as node:
        assert Web3(Web3.HTTPProvider(node.url)).eth.block_number == 0
