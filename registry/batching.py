"""Group commit: the work of whichever threads are waiting, done as one batch.

A request thread that needs the node hands its item to a :class:`Batcher` and blocks. If no batch
is running, it leads one at once: it takes every item waiting (its own, and any that arrived with
it) and runs them through the batch function. Items that arrive meanwhile wait; when the batch
ends, the first of them leads the next batch with all of them. So one caller alone pays no delay
(its batch holds just its item), and many callers together share each round trip to the node
instead of queueing one request each behind the node's single connection. A thread never does
more than the one batch that holds its own item.

A failure of the batch function is every item's failure: each waiting caller gets the exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Batcher"]

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Slot(Generic[Item, Result]):
    """One caller's item, and what it waits for: its result, or its turn to lead a batch."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.done = False
        self.woken = threading.Event()


class Batcher(Generic[Item, Result]):
    """Runs ``run`` on the items of the threads waiting together; each caller gets its result.

    ``run`` takes the items in arrival order and returns one result per item, in the same order.
    At most ``limit`` items go into one batch.
    """

    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Result]], limit: int = 256) -> None:
        self._run = run
        self._limit = limit
        self._lock = threading.Lock()
        self._waiting: list[_Slot[Item, Result]] = []
        self._leading = False

    @property
    def leading(self) -> bool:
        """Whether a batch is running now."""
        return self._leading

    @property
    def waiting(self) -> int:
        """Items waiting for the next batch."""
        with self._lock:
            return len(self._waiting)

    def submit(self, item: Item) -> Result:
        """``item``'s result, computed in a batch with whatever else waits."""
        slot: _Slot[Item, Result] = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            lead = not self._leading
            self._leading = True
        if not lead:
            slot.woken.wait()
        if not slot.done:
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
        try:
            results = self._run([slot.item for slot in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} items gave {len(results)} results")
        except BaseException as error:  # every caller must wake, whatever went wrong
            for slot in batch:
                slot.error = error
        else:
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
        for slot in batch:
            slot.done = True
        with self._lock:
            if self._waiting:
                # The next batch is led by its first caller, woken for that (it finds its slot
                # not done); the lead passes on without ever being free, so no item waits with
                # nobody to run it.
                self._waiting[0].woken.set()
            else:
                self._leading = False
        for slot in batch:
            slot.woken.set()
