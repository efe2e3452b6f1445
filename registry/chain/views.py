"""Many view calls of one contract at one block, batched through the contract's own ``multicall``.

The auditor's verification and the tests that compare the index with the contracts ask a view for
every record; one ``eth_call`` each would spend its time in round trips and web3's ABI handling. Our
contracts inherit OpenZeppelin's ``Multicall``, so the calls are encoded here (selector and
``eth_abi``), sent :data:`BATCH` at a time as one ``multicall`` ``eth_call`` at the block, and each
answer decoded by its function's output types. Answers are what web3 would return: tuples for
structs, lists for arrays, checksum addresses, one value unwrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.grammar import ABIType, BasicType, TupleType, parse
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address

from registry.chain.client import Chain

__all__ = ["BATCH", "ContractViews"]

BATCH = 256
"""Calls per ``multicall``: well under a node's gas cap for ``eth_call`` with our views."""


def _checksummed(abi_type: ABIType, value: Any) -> Any:
    """``value`` with its addresses checksummed (eth_abi decodes them in lower case)."""
    if abi_type.is_array:
        return [_checksummed(abi_type.item_type, item) for item in value]
    if isinstance(abi_type, TupleType):
        return tuple(_checksummed(c, v) for c, v in zip(abi_type.components, value, strict=True))
    if isinstance(abi_type, BasicType) and abi_type.base == "address":
        return to_checksum_address(value)
    return value


class ContractViews:
    """The view functions of ``contract`` (a web3 contract object), called in batches at one
    block."""

    def __init__(self, chain: Chain, contract: Any, block: int | str = "latest") -> None:
        self.chain = chain
        self.contract = contract
        self.block = block
        self._functions = {
            item["name"]: (
                function_abi_to_4byte_selector(item),
                [collapse_if_tuple(dict(i)) for i in item["inputs"]],
                [collapse_if_tuple(dict(o)) for o in item["outputs"]],
            )
            for item in contract.abi
            if item["type"] == "function"
        }

    def has(self, name: str) -> bool:
        return name in self._functions

    def call(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The answers of ``calls`` (function name, arguments), in order."""
        results: list[Any] = []
        for start in range(0, len(calls), BATCH):
            results += self._batch(calls[start : start + BATCH])
        return results

    def _batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        data = []
        for name, args in calls:
            selector, inputs, _ = self._functions[name]
            data.append(selector + encode(inputs, list(args)))
        answers = self.chain.call(self.contract.functions.multicall(data), self.block)
        results = []
        for (name, _), answer in zip(calls, answers, strict=True):
            outputs = self._functions[name][2]
            values = tuple(
                _checksummed(parse(t), v)
                for t, v in zip(outputs, decode(outputs, bytes(answer)), strict=True)
            )
            results.append(values[0] if len(values) == 1 else values)
        return results
