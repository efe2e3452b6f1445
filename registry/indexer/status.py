"""Where the index stands against the chain, and how fast it is indexing: :class:`IndexStatus`.

Read from the index database and the node (:func:`read_index_status`), never from an indexer's
memory, so that any process can ask: the indexer itself (:meth:`~registry.indexer.Indexer.status`),
the API beside it (``GET /v1/index/status`` and ``/metrics``), an operator's script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from registry.chain.client import Chain
from registry.indexer.cursor import CURSOR_NAME, read_state
from registry.indexer.progress import RATE_WINDOW, Progress, read_progress

__all__ = ["IndexStatus", "read_index_status"]


@dataclass(frozen=True)
class IndexStatus:
    """Where the index stands against the chain, and how fast it is indexing."""

    head: int
    confirmations: int
    indexed_block: int | None
    """The last block indexed; None before the first chunk is."""
    indexed_hash: str | None
    reorgs: int
    """Reorganizations the index rolled back since it was created."""
    last_reorg_depth: int | None
    """Blocks the last rollback un-indexed; None before any."""
    last_reorg_at: datetime | None
    progress: Progress
    """Events and steps (see :mod:`registry.indexer.progress`)."""

    @property
    def safe_head(self) -> int:
        return self.head - self.confirmations

    @property
    def lag(self) -> int | None:
        """Blocks between the chain's head and the last block indexed."""
        return None if self.indexed_block is None else max(self.head - self.indexed_block, 0)

    @property
    def caught_up(self) -> bool:
        return self.indexed_block is not None and self.indexed_block >= self.safe_head

    @property
    def events_indexed(self) -> int:
        """Events loaded since the index was created (re-loads after a reorganization included)."""
        return self.progress.events_total

    @property
    def events_per_second(self) -> float:
        """The indexing rate over the recent window."""
        return self.progress.events_per_second

    @property
    def rate_window_seconds(self) -> float:
        return RATE_WINDOW.total_seconds()

    @property
    def last_step_at(self) -> datetime | None:
        return self.progress.last_step_at


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; the index writes them in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def read_index_status(
    engine: Engine,
    chain: Chain,
    *,
    confirmations: int = 0,
    cursor_name: str = CURSOR_NAME,
    now: datetime | None = None,
) -> IndexStatus:
    """The index behind ``engine`` against ``chain``'s head, for an indexer that stays
    ``confirmations`` blocks behind it; the rate as of ``now`` (this clock by default). Raises
    ChainError when the node is unreachable."""
    with engine.connect() as connection:
        state = read_state(connection, cursor_name)
        progress = read_progress(connection, cursor_name, now)
    head = chain.block_number()
    return IndexStatus(
        head=head,
        confirmations=confirmations,
        indexed_block=None if state is None else state.cursor.block_number,
        indexed_hash=None if state is None else state.cursor.block_hash,
        reorgs=0 if state is None else state.reorgs,
        last_reorg_depth=None if state is None else state.last_reorg_depth,
        last_reorg_at=None if state is None else _utc(state.last_reorg_at),
        progress=progress,
    )
