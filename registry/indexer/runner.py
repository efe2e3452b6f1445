"""The indexer loop: extract a chunk of logs, decode it, load it with its cursor in one transaction.

A step indexes blocks ``cursor + 1 .. min(cursor + chunk_size, head - confirmations)``; on an empty
database the first step starts at the manifest's ``deployment_block``, since no log of ours can be
older. The cursor ``(block_number, block_hash)`` is written in the same database transaction as the
chunk's rows (see :mod:`registry.indexer.cursor`), so a crash at any point loses or repeats nothing,
and a repeated chunk is absorbed by the loader's unique keys anyway.

Reorganizations: before each step the stored cursor hash is compared with the chain's hash of
that block, and a chunk's reads are bracketed by hash checks of both of its ends, so that a
reorganization during the reads is not mistaken for a consistent chunk. On a mismatch the indexer
currently stops with :class:`~registry.indexer.errors.ReorgDetected`: rolling the index back to the
common ancestor and re-indexing (Ponder's way) is a later issue. Until then, ``confirmations``
keeps the indexer behind the blocks a network may still replace, and an index that hit the error is
rebuilt from a fresh database.

:class:`~registry.indexer.errors.ReorgDetected`, :class:`~registry.indexer.errors.UndecodableLog`
and :class:`~registry.indexer.errors.IndexConflict` stop :meth:`Indexer.run_forever`; other chain
and database errors are logged and retried, since a node or database that is briefly unreachable
must not end a long-running indexer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from eth_typing import HexStr
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from registry.chain.client import Chain
from registry.chain.deploy import Deployment
from registry.errors import ChainError, ConfigurationError
from registry.indexer.cursor import Cursor, read_cursor, write_cursor
from registry.indexer.decode import Decoder, EventRecord
from registry.indexer.errors import ReorgDetected, UndecodableLog
from registry.indexer.extract import (
    BlockRange,
    LogSource,
    Web3LogSource,
    block_hash,
    fetch_logs,
    next_range,
)
from registry.indexer.load import Loader
from registry.settings import Settings

__all__ = ["CURSOR_NAME", "Indexer", "IndexerStatus", "StepResult"]

CURSOR_NAME = "ledger"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexerStatus:
    """Where the index stands against the chain."""

    head: int
    safe_head: int
    indexed_block: int
    """The last block indexed; the block before the deployment on an empty index."""
    indexed_hash: HexStr | None
    lag: int
    """Blocks between the chain's head and the last block indexed."""

    @property
    def caught_up(self) -> bool:
        return self.indexed_block >= self.safe_head


@dataclass(frozen=True)
class StepResult:
    """What one step did: the blocks indexed (None when there was nothing new), the events in them
    and how far the chain's safe head was at the time."""

    block_range: BlockRange | None
    events: int
    safe_head: int

    @property
    def caught_up(self) -> bool:
        return self.block_range is None or self.block_range.end >= self.safe_head


class Indexer:
    """Indexes the deployment's contract events into the database behind ``engine``.

    ``log_source`` and ``loader`` are seams for tests (a node that refuses wide ranges, a handler
    that fails); by default logs come from ``eth_getLogs`` on ``chain`` and every event has its
    handler.
    """

    def __init__(
        self,
        engine: Engine,
        chain: Chain,
        deployment: Deployment,
        *,
        confirmations: int = 0,
        chunk_size: int = 2000,
        poll_interval: float = 0.5,
        log_source: LogSource | None = None,
        loader: Loader | None = None,
        cursor_name: str = CURSOR_NAME,
    ) -> None:
        if confirmations < 0 or chunk_size < 1 or poll_interval <= 0:
            raise ConfigurationError(
                f"bad indexer parameters: confirmations={confirmations}, "
                f"chunk_size={chunk_size}, poll_interval={poll_interval}"
            )
        self.engine = engine
        self.chain = chain
        self.deployment = deployment
        self.confirmations = confirmations
        self.chunk_size = chunk_size
        self.poll_interval = poll_interval
        self.log_source: LogSource = log_source or Web3LogSource(chain.w3)
        self.loader = loader or Loader()
        self.cursor_name = cursor_name
        self.decoder = Decoder.for_deployment(deployment)
        self._chain_checked = False

    @classmethod
    def from_settings(
        cls, engine: Engine, chain: Chain, deployment: Deployment, settings: Settings
    ) -> Indexer:
        return cls(
            engine,
            chain,
            deployment,
            confirmations=settings.confirmations,
            chunk_size=settings.index_chunk_size,
            poll_interval=settings.poll_interval,
        )

    def step(self) -> int:
        """Indexes the next chunk up to the safe head; returns the number of events in it."""
        return self.advance().events

    def advance(self) -> StepResult:
        """:meth:`step`, telling also which blocks were indexed and whether it caught up."""
        self._check_chain_id()
        with self.engine.connect() as connection:
            cursor = read_cursor(connection, self.cursor_name)
        self._verify(cursor)
        safe_head = self.chain.block_number() - self.confirmations
        block_range = next_range(self._indexed_block(cursor), safe_head, self.chunk_size)
        if block_range is None:
            return StepResult(None, 0, safe_head)

        end_hash = self._hash_of(block_range.end)
        logs = fetch_logs(self.log_source, self.decoder.addresses, block_range)
        # The end block unchanged after the reads means the blocks under it are unchanged too; the
        # cursor unchanged means the chunk still continues the indexed chain.
        self._verify(cursor)
        if self._hash_of(block_range.end) != end_hash:
            raise ChainError(f"the chain changed while blocks {block_range} were read; retry")
        records = self.decoder.decode_all(logs)
        self._check_records(records, block_range, end_hash)

        with self.engine.begin() as connection:
            self.loader.load(connection, records)
            write_cursor(connection, self.cursor_name, cursor, Cursor(block_range.end, end_hash))
        logger.info("indexed blocks %s: %d events", block_range, len(records))
        return StepResult(block_range, len(records), safe_head)

    def run_until_caught_up(self) -> int:
        """Indexes up to the safe head as it was when called; returns the number of events."""
        target = self.chain.block_number() - self.confirmations
        total = 0
        while True:
            result = self.advance()
            total += result.events
            # No range means the chain's safe head fell below the target (a rewound dev chain):
            # there is nothing left to wait for.
            if result.block_range is None or result.block_range.end >= target:
                return total

    def run_forever(self, stop: threading.Event) -> None:
        """Indexes until ``stop`` is set, polling every ``poll_interval`` once caught up.

        Stops with the error on a reorganization, an undecodable log or a conflicting index; logs
        and retries other chain and database failures.
        """
        while not stop.is_set():
            try:
                result = self.advance()
            except (ReorgDetected, UndecodableLog):
                raise
            except (ChainError, OperationalError) as error:
                logger.warning(
                    "indexer step failed, retrying in %ss: %s", self.poll_interval, error
                )
                stop.wait(self.poll_interval)
                continue
            if result.caught_up:
                stop.wait(self.poll_interval)

    def status(self) -> IndexerStatus:
        with self.engine.connect() as connection:
            cursor = read_cursor(connection, self.cursor_name)
        head = self.chain.block_number()
        indexed = self._indexed_block(cursor)
        return IndexerStatus(
            head=head,
            safe_head=head - self.confirmations,
            indexed_block=indexed,
            indexed_hash=None if cursor is None else cursor.block_hash,
            lag=max(head - indexed, 0),
        )

    def _indexed_block(self, cursor: Cursor | None) -> int:
        return self.deployment.deployment_block - 1 if cursor is None else cursor.block_number

    def _hash_of(self, number: int) -> HexStr:
        found = block_hash(self.chain.w3, number)
        if found is None:
            raise ChainError(f"the node has no block {number}, below its own safe head; retry")
        return found

    def _check_chain_id(self) -> None:
        if self._chain_checked:
            return
        if self.chain.chain_id != self.deployment.chain_id:
            raise ConfigurationError(
                f"the node serves chain {self.chain.chain_id}, the deployment manifest is for "
                f"chain {self.deployment.chain_id}"
            )
        self._chain_checked = True

    def _verify(self, cursor: Cursor | None) -> None:
        """Raises ReorgDetected unless the chain still has the cursor's block, with its hash."""
        if cursor is None:
            return
        on_chain = block_hash(self.chain.w3, cursor.block_number)
        if on_chain != cursor.block_hash:
            found = "no such block" if on_chain is None else f"hash {on_chain}"
            raise ReorgDetected(
                f"indexed block {cursor.block_number} had hash {cursor.block_hash}; the chain now "
                f"has {found}. Reorg rollback is not implemented yet: rebuild the index from a "
                "fresh database.",
                block_number=cursor.block_number,
                indexed_hash=cursor.block_hash,
                chain_hash=on_chain,
            )

    @staticmethod
    def _check_records(
        records: list[EventRecord], block_range: BlockRange, end_hash: HexStr
    ) -> None:
        """Logs outside the range, or in the end block under another hash, mean the node
        answered from a different chain than the one whose hashes were checked."""
        for record in records:
            outside = not block_range.start <= record.block_number <= block_range.end
            if outside or (
                record.block_number == block_range.end and record.block_hash != end_hash
            ):
                raise ChainError(
                    f"the node returned log {record.block_number}:{record.log_index} "
                    f"({record.block_hash}) for blocks {block_range} ending in {end_hash}; retry"
                )
