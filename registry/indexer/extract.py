"""Extract: the logs of the deployment's contracts, one block range at a time, and block hashes.

The log source is injected (:class:`LogSource`, a callable over ``eth_getLogs``), as httpx injects a
transport: tests pass a source that fails or records, and the code under test is the code that runs.

Nodes refuse ``eth_getLogs`` over ranges they find too wide or too full (result limits,
timeouts), and each node draws that line differently. So a failed request splits its range in two
and asks again, down to a single block; only a one-block range that still fails raises. The halving
stays within the request: each chunk starts again at the configured width, since a node's limit
usually depends on how busy the range is, and the indexer should not crawl forever after one dense
stretch. On a node with a hard width limit, set ``index_chunk_size`` below it instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from eth_typing import ChecksumAddress, HexStr
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.types import RPCEndpoint

from registry.errors import ChainError
from registry.indexer.decode import RawLog

__all__ = ["BlockRange", "LogSource", "Web3LogSource", "block_hash", "fetch_logs", "next_range"]


class LogSource(Protocol):
    """Returns every log of ``addresses`` in blocks ``from_block..to_block`` (inclusive), or raises
    :class:`~registry.errors.ChainError` when the node will not serve the range."""

    # Positional-only, so that any function of three arguments can serve as a source.
    def __call__(
        self, addresses: Sequence[ChecksumAddress], from_block: int, to_block: int, /
    ) -> Sequence[RawLog]: ...


def _request(w3: Web3, method: str, params: list[Any], what: str) -> Any:
    """The ``result`` of a raw JSON-RPC request through ``w3``'s provider.

    Raw, because web3's result formatters (every hex string into HexBytes, every log into an
    AttributeDict) cost ten times what the node takes to answer ``eth_getLogs``; the decoder reads
    the hex strings directly.
    """
    try:
        response = w3.provider.make_request(cast(RPCEndpoint, method), params)
    except (Web3Exception, OSError, ValueError) as error:
        raise ChainError(f"{what} failed: {type(error).__name__}: {error}") from error
    if "error" in response:
        raise ChainError(f"{what} failed: {response['error']}")
    return response.get("result")


class Web3LogSource:
    """``eth_getLogs`` through web3's provider, raw (logs as hex strings), with its failures
    turned into ChainError."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def __call__(
        self, addresses: Sequence[ChecksumAddress], from_block: int, to_block: int
    ) -> Sequence[RawLog]:
        what = f"eth_getLogs {from_block}..{to_block}"
        params = {
            "address": list(addresses),
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        logs = _request(self.w3, "eth_getLogs", [params], what)
        if not isinstance(logs, list):
            raise ChainError(f"{what} answered {logs!r} instead of a list of logs")
        return logs


@dataclass(frozen=True)
class BlockRange:
    """Blocks ``start..end``, both included."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"empty block range {self.start}..{self.end}")

    @property
    def width(self) -> int:
        return self.end - self.start + 1

    def halves(self) -> tuple[BlockRange, BlockRange]:
        middle = (self.start + self.end) // 2
        return BlockRange(self.start, middle), BlockRange(middle + 1, self.end)

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"


def next_range(indexed_block: int, safe_head: int, chunk_size: int) -> BlockRange | None:
    """The next chunk after ``indexed_block``, at most ``chunk_size`` blocks and never past
    ``safe_head``; None when there is nothing new to index."""
    if chunk_size < 1:
        raise ValueError(f"chunk size must be positive, not {chunk_size}")
    start = indexed_block + 1
    if start > safe_head:
        return None
    return BlockRange(start, min(indexed_block + chunk_size, safe_head))


def fetch_logs(
    source: LogSource, addresses: Sequence[ChecksumAddress], block_range: BlockRange
) -> list[RawLog]:
    """Every log of ``addresses`` in ``block_range``, halving a range the node refuses."""
    logs: list[RawLog] = []
    # A stack, low half on top, so that logs come back in block order without sorting.
    pending = [block_range]
    while pending:
        current = pending.pop()
        try:
            logs.extend(source(addresses, current.start, current.end))
        except ChainError as error:
            if current.width == 1:
                raise ChainError(
                    f"eth_getLogs fails even for the single block {current.start}: {error.message}"
                ) from error
            low, high = current.halves()
            pending += [high, low]
    return logs


def block_hash(w3: Web3, number: int) -> HexStr | None:
    """The hash of block ``number`` on the node's current chain, or None if it has no such block."""
    block = _request(w3, "eth_getBlockByNumber", [hex(number), False], f"reading block {number}")
    found = None if block is None else block.get("hash")
    return None if found is None else HexStr(str(found).lower())
