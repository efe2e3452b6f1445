"""A dev node that cannot start says so under its rule, and harms no node already running.

(tests/chain/test_node.py covers starting, stopping and port races; this is the refusal a
caller sees.)
"""

from __future__ import annotations

import pytest

from registry.chain.node import DevNode
from registry.errors import NodeStartError
from tests.conftest import Stack


def test_a_fixed_port_held_by_another_node_fails_the_start(anvil_stack: Stack) -> None:
    """With a fixed port there is no other port to move to: the start fails, naming the kind of
    node, and the node that holds the port keeps serving."""
    head = anvil_stack.chain.block_number()
    node = DevNode("anvil", port=anvil_stack.node.port)
    with pytest.raises(NodeStartError, match="anvil did not start") as raised:
        node.start(timeout=20)
    assert raised.value.rule == "node-start-failed"
    assert not node.running
    assert anvil_stack.node.running
    assert anvil_stack.chain.block_number() == head
