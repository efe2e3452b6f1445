"""Read your writes: waiting until the index has reached a block.

A write answered before the indexer has stored its block would be contradicted by the next read
of the index (a bank's list of its receivables, a report). So a write waits for the index to
reach its block (``CREDITREG_CONFIRMATIONS`` blocks below the head, where the indexer stops, so
that an answer also says the write is that deep) before it is answered.

One :class:`IndexWatch` per process reads the cursor for all the requests that wait, every
:data:`POLL_SECONDS` while any does, and wakes them as it moves: a hundred waiting writes cost one
small query per poll, not a hundred.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from registry.indexer import CURSOR_NAME, read_cursor

__all__ = ["POLL_SECONDS", "IndexWatch"]

POLL_SECONDS = 0.01

logger = logging.getLogger(__name__)


class IndexWatch:
    """The index's cursor as seen by the requests of one process that wait for it."""

    def __init__(self, engine: Engine, poll_seconds: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self._changed = threading.Condition()
        self._indexed: int | None = None
        self._waiting = 0
        self._poller: threading.Thread | None = None

    def indexed_block(self) -> int | None:
        """The last block the index holds, read now."""
        with self.engine.connect() as connection:
            cursor = read_cursor(connection, CURSOR_NAME)
        return None if cursor is None else cursor.block_number

    def wait_for(self, block: int, timeout: float) -> int | None:
        """Waits until the index holds ``block``; returns the indexed block then, or after
        ``timeout`` seconds the one it has reached (which may be None: nothing indexed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting += 1
            if self._poller is None or not self._poller.is_alive():
                self._poller = threading.Thread(target=self._poll, name="index-watch", daemon=True)
                self._poller.start()
            try:
                while self._indexed is None or self._indexed < block:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
                return self._indexed
            finally:
                self._waiting -= 1

    def _poll(self) -> None:
        """Reads the cursor while anyone waits, then ends (the next waiter starts another).

        A database error is logged and the cursor read again at the next poll: the poller must
        outlive it, or the requests waiting would wait out their whole timeout for nothing."""
        while True:
            try:
                indexed = self.indexed_block()
            except SQLAlchemyError as error:
                logger.warning("reading the index cursor failed, retrying: %s", error)
                indexed = self._indexed
            with self._changed:
                self._indexed = indexed
                self._changed.notify_all()
                if self._waiting == 0:
                    self._poller = None
                    return
            time.sleep(self.poll_seconds)
