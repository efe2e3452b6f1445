"""Receipts asked for once by every thread that wants the same one at the same moment.

The callers of a grouped transaction (:mod:`registry.chain.grouping`) each read their outcome from
its receipt as soon as it is mined: sixteen of them would fetch and parse the same receipt, every
call's logs included, sixteen times. Here the first asks the node and the others wait for its
answer, which is kept a while for those that come later.

A receipt is keyed by its transaction and the hash of the block it was mined in: after a
reorganization (or a dev node reverted to a snapshot) the same transaction mined in another block,
even at the same height, is another receipt, never a stale one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["SharedReceipts"]

Logs = list[dict[str, Any]]


class SharedReceipts:
    """The raw logs of recent receipts, fetched once each by ``fetch(tx_hash, block_hash)``
    (which refuses a receipt from another block)."""

    def __init__(self, fetch: Callable[[str, str | None], Logs], size: int = 256) -> None:
        self._fetch = fetch
        self._size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[str, str], Future[Logs]] = OrderedDict()

    def logs(self, tx_hash: str, block_hash: str | None) -> Logs:
        """The logs of ``tx_hash`` mined in the block ``block_hash``; without the block's hash,
        whatever the node has now, asked for anew."""
        if block_hash is None:
            return self._fetch(tx_hash, None)
        key = (tx_hash, block_hash)
        with self._lock:
            kept = self._kept.get(key)
            fetching = kept is None
            if kept is None:
                kept = self._kept[key] = Future()
                if len(self._kept) > self._size:
                    self._kept.popitem(last=False)
            else:
                self._kept.move_to_end(key)
        if fetching:
            try:
                kept.set_result(self._fetch(tx_hash, block_hash))
            except BaseException as error:
                kept.set_exception(error)
                with self._lock:
                    self._kept.pop(key, None)  # the next one asks again
        return kept.result()
