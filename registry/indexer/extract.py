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
from typing import Protocol

from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BlockNotFound, Web3Exception

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


class Web3LogSource:
    """``eth_getLogs`` through web3, with its failures turned into ChainError."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def __call__(
        self, addresses: Sequence[ChecksumAddress], from_block: int, to_block: int
    ) -> Sequence[RawLog]:
        try:
            return self.w3.eth.get_logs(
                {"address": list(addresses), "fromBlock": from_block, "toBlock": to_block}
            )
        except (Web3Exception, OSError) as error:
            raise ChainError(
                f"eth_getLogs {from_block}..{to_block} failed: {type(error).__name__}: {error}"
            ) from error


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
    try:
        block = w3.eth.get_block(number)
    except BlockNotFound:
        return None
    except (Web3Exception, OSError) as error:
        raise ChainError(
            f"reading block {number} failed: {type(error).__name__}: {error}"
        ) from error
    found = block.get("hash")
    return None if found is None else HexStr(HexBytes(found).to_0x_hex())
