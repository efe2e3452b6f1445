"""Read your writes (registry.index_watch): a write waiting for the index is woken when the
cursor reaches its block, also after the database failed for a while."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_typing import HexStr

from registry.db import create_schema, make_engine
from registry.db.schema import indexer_cursor
from registry.index_watch import IndexWatch
from registry.indexer import CURSOR_NAME, Cursor
from registry.indexer.cursor import write_cursor

HASH = HexStr("0x" + "ab" * 32)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    create_schema(engine)
    return engine


def waiting(watch: IndexWatch, block: int) -> tuple[threading.Thread, list[int | None]]:
    answer: list[int | None] = []
    thread = threading.Thread(target=lambda: answer.append(watch.wait_for(block, timeout=60)))
    thread.start()
    return thread, answer


def test_a_waiting_write_is_woken_when_the_index_reaches_its_block(engine: sa.Engine) -> None:
    watch = IndexWatch(engine, poll_seconds=0.001)
    thread, answer = waiting(watch, 5)
    with engine.begin() as connection:
        write_cursor(connection, CURSOR_NAME, None, Cursor(3, HASH))
    with engine.begin() as connection:
        write_cursor(connection, CURSOR_NAME, Cursor(3, HASH), Cursor(6, HASH))
    thread.join(60)
    assert answer == [6]


class FailureCountingWatch(IndexWatch):
    failures = 0

    def indexed_block(self) -> int | None:
        try:
            return super().indexed_block()
        except sa.exc.SQLAlchemyError:
            self.failures += 1
            raise


def test_the_watch_outlives_a_database_error(engine: sa.Engine) -> None:
    """The cursor's table gone for a while (every read fails): the poller logs, polls on, and
    wakes the waiting write once the index is there, instead of dying and leaving it to wait out
    its timeout."""
    with engine.begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE {indexer_cursor.name} RENAME TO hidden"))
    watch = FailureCountingWatch(engine, poll_seconds=0.001)
    thread, answer = waiting(watch, 5)
    deadline = time.monotonic() + 30
    while watch.failures < 3 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert watch.failures >= 3, "the poller stopped reading after the first failure"
    with engine.begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE hidden RENAME TO {indexer_cursor.name}"))
        write_cursor(connection, CURSOR_NAME, None, Cursor(5, HASH))
    thread.join(60)
    assert answer == [5]
    assert watch._poller is None or watch._poller.is_alive()
