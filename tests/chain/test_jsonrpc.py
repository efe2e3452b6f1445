"""The lean JSON-RPC path of the head and batched views (registry.chain.jsonrpc): the same
answers and the same errors as web3's path, on a real node."""

from __future__ import annotations

import pytest
from web3 import Web3

from registry import errors
from registry.chain.abi import calldata
from registry.chain.client import Chain
from registry.chain.node import free_port
from registry.chain.views import ContractViews
from tests.conftest import Stack, fp


@pytest.fixture
def web3_only(stack: Stack) -> Chain:
    """The same node through web3 alone: the path the lean one must agree with."""
    return Chain(stack.chain.w3)


def test_head_and_views_agree_with_web3s_path(stack: Stack, web3_only: Chain) -> None:
    assert stack.chain.block_number() == web3_only.block_number()
    calls = [
        ("institutionOf", (stack.bank_a.signer.address,)),
        ("getReceivable", (fp("nothing registered"),)),
        ("hasRole", (bytes(32), stack.admin.signer.address)),
    ]
    block = stack.chain.block_number()
    lean = ContractViews(stack.chain, stack.ledger.contract).call(calls, block)
    assert lean == ContractViews(web3_only, stack.ledger.contract).call(calls, block)
    assert lean[0] == stack.ledger.institution_of(stack.bank_a.signer.address)


def test_a_reverted_call_is_decoded_into_its_rule(stack: Stack, web3_only: Chain) -> None:
    """``finance`` called with no sender (the zero address, which holds no role) reverts with
    AccessControl's error: both paths raise the rule it names."""
    data = bytes.fromhex(stack.ledger.contract.encode_abi("finance", args=[fp("x"), 1])[2:])
    for chain in (stack.chain, web3_only):
        with pytest.raises(errors.MissingRole) as refused:
            chain.call_data(stack.ledger.address, data)
        assert int(refused.value.details["account"], 16) == 0


def test_an_unreachable_node_is_a_chain_error() -> None:
    chain = Chain.connect(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(errors.ChainError, match="node request failed"):
        chain.block_number()
    with pytest.raises(errors.ChainError, match="node request failed"):
        chain.call_data(Web3.to_checksum_address("0x" + "22" * 20), b"\x00" * 4)


def test_an_error_answer_is_a_chain_error(stack: Stack) -> None:
    with pytest.raises(errors.ChainError, match="node request failed"):
        stack.chain._lean("eth_noSuchMethod", [])


def test_calldata_is_web3s_for_every_form_of_argument(stack: Stack) -> None:
    """registry.chain.abi encodes from the function's own ABI entry; arguments in a form only
    web3 converts (hex text for bytes32) go through web3's encoder, with the same result."""
    functions = stack.ledger.contract.functions
    rid = fp("any invoice")
    for function in (
        functions.finance(rid, 5),
        functions.finance("0x" + rid.hex(), 5),
        functions.institutionOf(stack.bank_a.signer.address),
        functions.registerReceivable(
            (rid, fp("exporter"), 1, 100, b"USD", 2_000_000_000), [(fp("d"), 100)], []
        ),
    ):
        assert calldata(function) == bytes.fromhex(function._encode_transaction_data()[2:])
