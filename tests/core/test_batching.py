"""Group commit (registry.batching): callers waiting together share one batch, each gets its own
result or the batch's error, and nobody is left waiting with no one to lead."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from registry.batching import Batcher


class Recorder:
    """A batch function that records its batches and can be held until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.entered.set()
        assert self.release.wait(10), "the test never released the batch"
        if any(item < 0 for item in items):
            raise ValueError(f"negative item in {list(items)}")
        return [item * 10 for item in items]


def test_a_caller_alone_is_its_own_batch() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder)
    assert [batcher.submit(i) for i in range(3)] == [0, 10, 20]
    assert recorder.batches == [[0], [1], [2]]


def held(
    recorder: Recorder, pool: ThreadPoolExecutor, item: int, limit: int = 256
) -> tuple[Batcher[int, int], Future[int]]:
    """A batcher whose first batch (of ``item``) is running and held until the test releases it."""
    recorder.release.clear()
    batcher = Batcher(recorder, limit=limit)
    first = pool.submit(batcher.submit, item)
    assert recorder.entered.wait(10)
    return batcher, first


def wait_queued(batcher: Batcher[int, int], count: int) -> None:
    while _queued(batcher) < count:
        threading.Event().wait(0.001)


def test_callers_arriving_during_a_batch_share_the_next_one() -> None:
    recorder = Recorder()
    with ThreadPoolExecutor(9) as pool:
        batcher, first = held(recorder, pool, 1)
        # Eight more callers arrive while the first batch is held at the node.
        rest = [pool.submit(batcher.submit, i) for i in range(2, 10)]
        wait_queued(batcher, 8)
        recorder.release.set()
        assert first.result(10) == 10
        assert [future.result(10) for future in rest] == [i * 10 for i in range(2, 10)]
    assert recorder.batches == [[1], list(range(2, 10))]


def _queued(batcher: Batcher[int, int]) -> int:
    with batcher._lock:
        return len(batcher._waiting)


def test_a_failing_batch_fails_each_of_its_callers_and_the_next_batch_runs() -> None:
    recorder = Recorder()
    with ThreadPoolExecutor(4) as pool:
        batcher, first = held(recorder, pool, 1)
        failing = [pool.submit(batcher.submit, i) for i in (-1, 2)]
        wait_queued(batcher, 2)
        recorder.release.set()
        assert first.result(10) == 10
        for future in failing:
            with pytest.raises(ValueError, match="negative item"):
                future.result(10)
    # Nothing is left leading: the next caller runs at once.
    assert batcher.submit(3) == 30


def test_a_batch_holds_at_most_its_limit() -> None:
    recorder = Recorder()
    with ThreadPoolExecutor(8) as pool:
        batcher, first = held(recorder, pool, 0, limit=3)
        rest = [pool.submit(batcher.submit, i) for i in range(1, 8)]
        wait_queued(batcher, 7)
        recorder.release.set()
        assert sorted([first.result(10)] + [f.result(10) for f in rest]) == [
            i * 10 for i in range(8)
        ]
    assert [len(batch) for batch in recorder.batches] == [1, 3, 3, 1]


def test_a_batch_returning_the_wrong_number_of_results_fails_its_callers() -> None:
    batcher: Batcher[int, int] = Batcher(lambda items: [1, 2, 3])
    with pytest.raises(RuntimeError, match="a batch of 1 items gave 3 results"):
        batcher.submit(1)
    echo: Batcher[int, int] = Batcher(lambda items: list(items))
    assert echo.submit(4) == 4


def test_many_threads_hammering_each_get_their_own_result() -> None:
    batcher: Batcher[int, int] = Batcher(lambda items: [item * 2 for item in items])
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(batcher.submit, range(2000)))
    assert results == [i * 2 for i in range(2000)]
