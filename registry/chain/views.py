"""Many view calls of one contract at one block, batched through the contract's own ``multicall``.

The auditor's verification and the tests that compare the index with the contracts ask a view for
every record; one ``eth_call`` each would spend its time in round trips and web3's ABI handling. Our
contracts inherit OpenZeppelin's ``Multicall``, so the calls are encoded here (selector and
``eth_abi``), sent :data:`BATCH` at a time as one ``multicall`` ``eth_call`` at the block, and each
answer decoded by its function's output types. Answers are what web3 would return: tuples for
structs, lists for arrays, checksum addresses, one value unwrapped.

:class:`HeadViews` does the same for the API's reads, which come one request at a time from many
threads: the calls of every request waiting together are answered at one head block, read once,
in one ``multicall`` per contract (:mod:`registry.batching`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from eth_abi.abi import decode

from registry.batching import Batcher
from registry.chain.abi import multicall_data, signature
from registry.chain.client import Chain

__all__ = ["BATCH", "ContractViews", "HeadRead", "HeadViews", "ViewCall"]


BATCH = 256
"""Calls per ``multicall``: well under a node's gas cap for ``eth_call`` with our views."""


class ContractViews:
    """The view functions of ``contract`` (a web3 contract object), called in batches at one
    block."""

    def __init__(self, chain: Chain, contract: Any, block: int | str = "latest") -> None:
        self.chain = chain
        self.contract = contract
        self.block = block
        self._functions = {
            item["name"]: signature(item) for item in contract.abi if item["type"] == "function"
        }

    def has(self, name: str) -> bool:
        return name in self._functions

    def call(
        self, calls: Sequence[tuple[str, Sequence[Any]]], block: int | str | None = None
    ) -> list[Any]:
        """The answers of ``calls`` (function name, arguments), in order, at ``block`` (by
        default the one these views were made for)."""
        results: list[Any] = []
        for start in range(0, len(calls), BATCH):
            results += self._batch(
                calls[start : start + BATCH], self.block if block is None else block
            )
        return results

    def _batch(self, calls: Sequence[tuple[str, Sequence[Any]]], block: int | str) -> list[Any]:
        data = [self._functions[name].encode(args) for name, args in calls]
        returned = self.chain.call_data(self.contract.address, multicall_data(data), block)
        (answers,) = decode(["bytes[]"], returned)
        return [
            self._functions[name].decode(bytes(answer))
            for (name, _), answer in zip(calls, answers, strict=True)
        ]


class ViewCall(NamedTuple):
    """One view call: the contract's views, the function's name, its arguments."""

    views: ContractViews
    name: str
    args: Sequence[Any]


class HeadRead(NamedTuple):
    """The answers of a request's view calls, in order, and the block they were read at."""

    block: int
    answers: list[Any]


class HeadViews:
    """View calls of many request threads, answered together at the chain's newest block.

    A request's calls are all read at one block, so its answer is a consistent snapshot; the calls
    of requests that wait together share that block's number (one ``eth_blockNumber``) and one
    ``multicall`` per contract. A request alone pays the same two round trips.
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self._batcher: Batcher[Sequence[ViewCall], HeadRead] = Batcher(self._read_all)

    def read(self, calls: Sequence[ViewCall]) -> HeadRead:
        """The answers of ``calls`` at the newest block, read with any other request's."""
        return self._batcher.submit(calls)

    def _read_all(self, requests: Sequence[Sequence[ViewCall]]) -> list[HeadRead]:
        block = self.chain.block_number()
        answers: list[list[Any]] = [[None] * len(calls) for calls in requests]
        by_contract: dict[int, tuple[ContractViews, list[tuple[int, int, ViewCall]]]] = {}
        for r, calls in enumerate(requests):
            for c, call in enumerate(calls):
                by_contract.setdefault(id(call.views), (call.views, []))[1].append((r, c, call))
        for views, entries in by_contract.values():
            results = views.call([(call.name, call.args) for _, _, call in entries], block)
            for (r, c, _), result in zip(entries, results, strict=True):
                answers[r][c] = result
        return [HeadRead(block, request) for request in answers]
