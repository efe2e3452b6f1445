"""The dev node starts on a free port, answers JSON-RPC, and leaves no process behind."""

from __future__ import annotations

import os

import pytest
from web3 import Web3

from registry.chain.node import DEV_CHAIN_IDS, DevNode, wait_for_rpc
from registry.errors import NodeStartError
from registry.settings import NodeKind


@pytest.mark.parametrize("kind", ["anvil", "ganache"])
def test_node_starts_answers_and_stops(kind: NodeKind) -> None:
    with DevNode(kind) as node:
        assert node.running
        assert Web3(Web3.HTTPProvider(node.url)).eth.chain_id == DEV_CHAIN_IDS[kind]
        pid = node._process.pid  # type: ignore[union-attr]
    assert not node.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_unreachable_url_fails_clearly() -> None:
    with DevNode() as node:
        url = node.url
    with pytest.raises(NodeStartError, match="no JSON-RPC answer"):
        wait_for_rpc(url, timeout=0.5)
