"""Many view calls of one contract, at one block, in a single ``eth_call``.

Tests that compare the index with the contracts at every block ask hundreds of views; one web3
call each spends most of its time in web3's ABI handling, not in the node. Our contracts inherit
OpenZeppelin's ``Multicall``, so the views are encoded here (selector and ``eth_abi``), sent as one
``multicall`` ``eth_call`` at the block, and each answer decoded by its function's output types.
Answers are what web3 would return: tuples for structs, lists for arrays, checksum addresses, one
value unwrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.grammar import ABIType, BasicType, TupleType, parse
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address

from registry.chain.client import Chain

__all__ = ["Views"]


def _checksummed(abi_type: ABIType, value: Any) -> Any:
    """``value`` with its addresses checksummed (eth_abi decodes them in lower case)."""
    if abi_type.is_array:
        return [_checksummed(abi_type.item_type, item) for item in value]
    if isinstance(abi_type, TupleType):
        return tuple(_checksummed(c, v) for c, v in zip(abi_type.components, value, strict=True))
    if isinstance(abi_type, BasicType) and abi_type.base == "address":
        return to_checksum_address(value)
    return value


class Views:
    """The view functions of ``contract`` (a web3 contract object), callable in batches."""

    def __init__(self, chain: Chain, contract: Any) -> None:
        self.chain = chain
        self.contract = contract
        self._functions = {
            item["name"]: (
                function_abi_to_4byte_selector(item),
                [collapse_if_tuple(dict(i)) for i in item["inputs"]],
                [collapse_if_tuple(dict(o)) for o in item["outputs"]],
            )
            for item in contract.abi
            if item["type"] == "function"
        }

    def call(
        self, calls: Sequence[tuple[str, Sequence[Any]]], block: int | str = "latest"
    ) -> list[Any]:
        """The answers of ``calls`` (function name, arguments) at ``block``, in order."""
        if not calls:
            return []
        data = []
        for name, args in calls:
            selector, inputs, _ = self._functions[name]
            data.append(selector + encode(inputs, list(args)))
        answers = self.chain.call(self.contract.functions.multicall(data), block)
        results = []
        for (name, _), answer in zip(calls, answers, strict=True):
            outputs = self._functions[name][2]
            values = tuple(
                _checksummed(parse(t), v)
                for t, v in zip(outputs, decode(outputs, bytes(answer)), strict=True)
            )
            results.append(values[0] if len(values) == 1 else values)
        return results
