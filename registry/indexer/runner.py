"""The indexer loop: extract a chunk of logs, decode it, load it with its cursor in one transaction.

A step indexes blocks ``cursor + 1 .. min(cursor + chunk_size, head - confirmations)``; on an empty
database the first step starts at the manifest's ``deployment_block``, since no log of ours can be
older. The cursor ``(block_number, block_hash)`` is written in the same database transaction as the
chunk's rows and block hashes (see :mod:`registry.indexer.cursor`), so a crash at any point loses
or repeats nothing, and a repeated chunk is absorbed by the loader's idempotency anyway.

Streaming: a step holds one chunk of logs (at most ``chunk_size`` blocks of them) and the records
decoded from it; :meth:`Indexer.run_until_caught_up` and :meth:`Indexer.run_forever` read the next
chunk while writing the current one (:class:`_ReadAhead`), so they hold at most two. Memory does
not grow with the length of the chain. (A deviation from "one chunk in memory": the read-ahead is
what lets a replay overlap the node's and the database's time, see :class:`_ReadAhead`.)

Speed: a replay is CPU-bound in this process (Python and SQLite share the GIL), so the costs were
cut where they were: logs fetched raw, without web3's formatters (:mod:`~.extract`); decoded by
slicing ABI words (:mod:`~.decode`); applied in memory and written in bulk (:mod:`~.load`,
:mod:`registry.db.bulk`); the next chunk read while the current one is written. With
``pause_gc`` (off by default), Python's cyclic garbage collector is paused too while a chunk is in
hand (:func:`_collector_paused`). That pause is process-wide, so only a process that does nothing
but index turns it on (``creditreg index``, the benchmark); under ``creditreg up`` the API runs in
the indexer's process, and it stays off.

Reorganizations (Ponder's way, see :mod:`registry.indexer.reorg`): before each step the cursor's
hash is compared with the chain's hash of that block. On a mismatch the index is rolled back, in one
transaction, to the newest block it kept a hash of that the chain still has, and the step goes on
from there, indexing the new branch like any other blocks; :attr:`StepResult.rollback` tells, and
the cursor's row counts it. A chunk's reads are bracketed by hash checks of both of its ends, so a
reorganization during the reads is not mistaken for a consistent chunk: it is a ChainError, and
the next step rolls back. Only a reorganization deeper than every hash the index kept raises
:class:`~registry.indexer.errors.ReorgDetected`, and the index must then be rebuilt from a fresh
database. ``confirmations`` keeps the indexer behind the blocks a network may still replace
(0 on a dev chain, where blocks are final unless a test rewinds it).

:class:`~registry.indexer.errors.ReorgDetected`, :class:`~registry.indexer.errors.UndecodableLog`
and :class:`~registry.indexer.errors.IndexConflict` stop :meth:`Indexer.run_forever`; other chain
and database errors are logged and retried, since a node or database that is briefly unreachable
must not end a long-running indexer.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from eth_typing import HexStr
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from registry.chain.client import Chain
from registry.contracts.deploy import Deployment
from registry.errors import ChainError, ConfigurationError
from registry.indexer.contracts import CONTRACTS, EVENT_TYPES
from registry.indexer.cursor import CURSOR_NAME, Cursor, read_cursor, write_cursor
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
from registry.indexer.progress import record_step
from registry.indexer.reorg import Rollback, find_common_ancestor, remember_blocks, roll_back
from registry.indexer.status import IndexStatus, read_index_status
from registry.settings import Settings

__all__ = ["Indexer", "StepResult"]

logger = logging.getLogger(__name__)


_pause_lock = threading.Lock()
_pauses = 0  # chunks being decoded or written now, in any thread
_collector_was_enabled = False


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector while a chunk is decoded or written.

    A chunk allocates hundreds of thousands of small objects (records, rows), none of them in a
    reference cycle, and the collector's passes over them cost a quarter of the indexing time.
    Reference counting still frees them; cycles made meanwhile (by any thread) are collected once
    no chunk is in hand. Counted, since the read-ahead thread decodes while the main one writes.
    """
    global _pauses, _collector_was_enabled
    with _pause_lock:
        if _pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collector_was_enabled:
                gc.enable()


@dataclass(frozen=True)
class StepResult:
    """What one step did: the blocks indexed (None when there was nothing new), the events in them
    and how far the chain's safe head was at the time."""

    block_range: BlockRange | None
    events: int
    safe_head: int
    rollback: Rollback | None = None
    """The reorganization rolled back before the step indexed, if any."""

    @property
    def caught_up(self) -> bool:
        return self.block_range is None or self.block_range.end >= self.safe_head


@dataclass(frozen=True)
class _Chunk:
    """A chunk read and decoded, ready to be written."""

    block_range: BlockRange
    end_hash: HexStr
    records: list[EventRecord]
    blocks: dict[int, tuple[HexStr, int]]
    read_seconds: float
    """Spent reading and decoding it: part of its step's duration (progress)."""


class _ReadAhead:
    """Reads the next chunk in a worker thread while the current one is written.

    Writing a chunk spends much of its time in the database driver (which releases the GIL) and
    reading one waits for the node: overlapping them is what brings a replay near the node's own
    rate. A chunk read ahead is used only if it starts right after the cursor that its step finds
    (a rollback or a failed write discards it), and it passes the same checks as any chunk: its
    end block's hash before and after its reads, and the cursor's hash before it is written. At
    most two chunks are in memory: the one being written and the one being read.
    """

    def __init__(self, indexer: Indexer) -> None:
        self._indexer = indexer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexer-read")
        self._pending: tuple[int, Future[_Chunk | None]] | None = None

    def start(self, indexed: int, safe_head: int) -> None:
        self.discard()
        self._pending = (indexed + 1, self._pool.submit(self._indexer._read, indexed, safe_head))

    def take(self, start: int) -> _Chunk | None:
        """The chunk read ahead if it starts at block ``start``; None otherwise (read anew)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        first, future = pending
        try:
            chunk = future.result()
        except ChainError:
            # Read again in the step's own order, where a failure is reported as usual.
            return None
        if first != start or chunk is None:
            return None
        return chunk

    def discard(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            # Let the read finish (a thread cannot be interrupted) and drop what it got.
            with contextlib.suppress(Exception):
                pending[1].result()

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()
        self._pool.shutdown(wait=True)


class Indexer:
    """Indexes the deployment's contract events into the database behind ``engine``.

    ``log_source`` and ``loader`` are seams for tests (a node that refuses wide ranges, a handler
    that fails); by default logs come from ``eth_getLogs`` on ``chain`` and every contract of
    :data:`~registry.indexer.contracts.CONTRACTS` is indexed. ``pause_gc`` pauses the garbage
    collector, process-wide, while a chunk is in hand (see the module docstring): only for a
    process that does nothing but index.
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
        pause_gc: bool = False,
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
        self.loader = loader or Loader(CONTRACTS)
        self.cursor_name = cursor_name
        self.pause_gc = pause_gc
        self.decoder = Decoder.for_deployment(deployment, EVENT_TYPES)
        self._chain_checked = False

    @classmethod
    def from_settings(
        cls,
        engine: Engine,
        chain: Chain,
        deployment: Deployment,
        settings: Settings,
        *,
        pause_gc: bool = False,
    ) -> Indexer:
        return cls(
            engine,
            chain,
            deployment,
            confirmations=settings.confirmations,
            chunk_size=settings.index_chunk_size,
            poll_interval=settings.poll_interval,
            pause_gc=pause_gc,
        )

    def step(self) -> int:
        """Indexes the next chunk up to the safe head; returns the number of events in it."""
        return self.advance().events

    def advance(self) -> StepResult:
        """:meth:`step`, telling also which blocks were indexed and whether it caught up."""
        return self._advance(None)

    def _advance(self, read_ahead: _ReadAhead | None) -> StepResult:
        """One step; with ``read_ahead``, the chunk may come from it, and the next chunk is read
        by it while this one is written."""
        self._check_chain_id()
        with self.engine.connect() as connection:
            cursor = read_cursor(connection, self.cursor_name)
        rollback = self._reconcile(cursor)
        if rollback is not None:
            cursor = rollback.ancestor
        safe_head = self.chain.block_number() - self.confirmations
        indexed = self._indexed_block(cursor)
        chunk = None if read_ahead is None else read_ahead.take(indexed + 1)
        if chunk is None:
            chunk = self._read(indexed, safe_head)
        if chunk is None:
            return StepResult(None, 0, safe_head, rollback)
        if read_ahead is not None:
            read_ahead.start(chunk.block_range.end, safe_head)
        self._write(cursor, indexed, chunk)
        logger.info("indexed blocks %s: %d events", chunk.block_range, len(chunk.records))
        return StepResult(chunk.block_range, len(chunk.records), safe_head, rollback)

    def _read(self, indexed: int, safe_head: int) -> _Chunk | None:
        """Reads and decodes the chunk after block ``indexed``; None if there is none yet."""
        block_range = next_range(indexed, safe_head, self.chunk_size)
        if block_range is None:
            return None
        started = time.monotonic()
        end_hash = self._hash_of(block_range.end)
        logs = fetch_logs(self.log_source, self.decoder.addresses, block_range)
        # The end block unchanged after the reads means the blocks under it are unchanged too.
        if self._hash_of(block_range.end) != end_hash:
            raise ChainError(f"the chain changed while blocks {block_range} were read; retry")
        with self._chunk_in_hand():
            records = self.decoder.decode_all(logs)
        del logs  # the records replace the raw logs
        blocks = self._blocks(records, block_range, end_hash)
        return _Chunk(block_range, end_hash, records, blocks, time.monotonic() - started)

    def _write(self, cursor: Cursor | None, indexed: int, chunk: _Chunk) -> None:
        """Loads ``chunk``, its block hashes and its cursor in one transaction."""
        # The cursor still on the chain, after the chunk's reads, means the chunk continues the
        # indexed chain.
        if cursor is not None and self._chain_hash(cursor.block_number) != cursor.block_hash:
            raise ChainError(
                f"the chain reorganized while blocks {chunk.block_range} were read; retry"
            )
        end = Cursor(chunk.block_range.end, chunk.end_hash)
        started = time.monotonic()
        with self._chunk_in_hand(), self.engine.begin() as connection:
            loaded = self.loader.load(connection, chunk.records, chunk.block_range)
            remember_blocks(connection, chunk.blocks, indexed, end.block_number)
            write_cursor(connection, self.cursor_name, cursor, end)
            seconds = chunk.read_seconds + time.monotonic() - started
            record_step(connection, self.cursor_name, chunk.block_range, loaded, seconds)

    def _reconcile(self, cursor: Cursor | None) -> Rollback | None:
        """Rolls the index back to the common ancestor if the chain no longer has the cursor's
        block; raises ReorgDetected if no block the index kept is on the chain any more."""
        if cursor is None:
            return None
        on_chain = self._chain_hash(cursor.block_number)
        if on_chain == cursor.block_hash:
            return None
        with self.engine.connect() as connection:
            ancestor = find_common_ancestor(connection, self._chain_hash, cursor.block_number)
        if ancestor is None:
            found = "no such block" if on_chain is None else f"hash {on_chain}"
            raise ReorgDetected(
                f"indexed block {cursor.block_number} had hash {cursor.block_hash}; the chain now "
                f"has {found}, and none of the blocks the index kept a hash of is on the chain: "
                "the reorganization is deeper than the index's history. Rebuild the index from a "
                "fresh database.",
                block_number=cursor.block_number,
                indexed_hash=cursor.block_hash,
                chain_hash=on_chain,
            )
        rollback = Rollback(cursor, ancestor)
        with self.engine.begin() as connection:
            roll_back(connection, self.cursor_name, rollback)
        logger.warning(
            "chain reorganized: block %d is now %s; rolled the index back %d blocks to %d",
            cursor.block_number,
            on_chain,
            rollback.depth,
            ancestor.block_number,
        )
        return rollback

    def run_until_caught_up(self) -> int:
        """Indexes up to the safe head as it was when called; returns the number of events."""
        target = self.chain.block_number() - self.confirmations
        total = 0
        with _ReadAhead(self) as read_ahead:
            while True:
                result = self._advance(read_ahead)
                total += result.events
                # No range means the chain's safe head fell below the target (a rewound dev
                # chain): there is nothing left to wait for.
                if result.block_range is None or result.block_range.end >= target:
                    return total

    def run_forever(self, stop: threading.Event) -> None:
        """Indexes until ``stop`` is set, polling every ``poll_interval`` once caught up.

        Stops with the error on a reorganization, an undecodable log or a conflicting index; logs
        and retries other chain and database failures.
        """
        with _ReadAhead(self) as read_ahead:
            while not stop.is_set():
                try:
                    result = self._advance(read_ahead)
                except (ReorgDetected, UndecodableLog):
                    raise
                except (ChainError, OperationalError) as error:
                    read_ahead.discard()
                    logger.warning(
                        "indexer step failed, retrying in %ss: %s", self.poll_interval, error
                    )
                    stop.wait(self.poll_interval)
                    continue
                if result.caught_up:
                    stop.wait(self.poll_interval)

    def status(self, now: datetime | None = None) -> IndexStatus:
        """Where the index stands; the rate as of ``now`` (this clock by default)."""
        return read_index_status(
            self.engine,
            self.chain,
            confirmations=self.confirmations,
            cursor_name=self.cursor_name,
            now=now,
        )

    def _chunk_in_hand(self) -> contextlib.AbstractContextManager[None]:
        """Around decoding or writing a chunk: the collector paused if ``pause_gc``."""
        return _collector_paused() if self.pause_gc else contextlib.nullcontext()

    def _indexed_block(self, cursor: Cursor | None) -> int:
        return self.deployment.deployment_block - 1 if cursor is None else cursor.block_number

    def _chain_hash(self, number: int) -> HexStr | None:
        return block_hash(self.chain.w3, number)

    def _hash_of(self, number: int) -> HexStr:
        found = self._chain_hash(number)
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

    @staticmethod
    def _blocks(
        records: list[EventRecord], block_range: BlockRange, end_hash: HexStr
    ) -> dict[int, tuple[HexStr, int]]:
        """The hashes to keep for the chunk: each block with logs (and its count of them), and
        the end block.

        Logs outside the range, or two hashes for one block, or another hash for the end block,
        mean the node answered from a different chain than the one whose hashes were checked.
        """
        blocks: dict[int, tuple[HexStr, int]] = {block_range.end: (end_hash, 0)}
        for record in records:
            number = record.block_number
            known, count = blocks.get(number, (record.block_hash, 0))
            if not block_range.start <= number <= block_range.end or known != record.block_hash:
                raise ChainError(
                    f"the node returned log {number}:{record.log_index} ({record.block_hash}) "
                    f"for blocks {block_range} ending in {end_hash}; retry"
                )
            blocks[number] = (known, count + 1)
        return blocks
