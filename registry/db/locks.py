"""Locks that every process sharing the index database respects.

An account's transactions must be signed one at a time, each with the next nonce: threads of one
process queue on the signer's own lock, and the API's worker processes, which share a PostgreSQL
database, also queue on a PostgreSQL advisory lock per account (:func:`account_lock`). A
worker killed while holding one loses its connection, and the lock with it.

One indexer writes an index at a time: ``creditreg index`` holds :func:`indexer_lock` while it
runs, and a second one started beside it (a standby, on another host) waits for the lock and
takes over when the first dies, its connection and lock with it.

On SQLite there is one process (``creditreg up`` or a single ``serve``), so there is no such lock.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Engine, text

__all__ = [
    "ACCOUNT_LOCK_CLASS",
    "INDEXER_LOCK_CLASS",
    "AccountLock",
    "account_lock",
    "indexer_lock",
]

ACCOUNT_LOCK_CLASS = 0x63726567  # "creg": the first key of every account lock
"""The advisory lock's first key; the second is taken from the account's address."""
INDEXER_LOCK_CLASS = 0x63726569  # "crei"
"""The indexer lock's first key; the second is taken from the indexer's cursor name."""

AccountLock = Callable[[str], AbstractContextManager[None]]
"""Given an account's address, a context in which no other process sends from it."""


def _second_key(address: str) -> int:
    """The address's first four bytes as a signed 32-bit integer, as PostgreSQL's int4 takes it."""
    return int.from_bytes(bytes.fromhex(address.removeprefix("0x")[:8]), "big", signed=True)


def account_lock(engine: Engine) -> AccountLock | None:
    """The lock that keeps processes sharing ``engine``'s database from sending from one account
    at once; None where only one process uses the database (SQLite)."""
    if engine.dialect.name != "postgresql":
        return None

    @contextmanager
    def locked(address: str) -> Iterator[None]:
        keys = {"first": ACCOUNT_LOCK_CLASS, "second": _second_key(address)}
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:first, :second)"), keys)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:first, :second)"), keys)
                connection.commit()

    return locked


@contextmanager
def indexer_lock(
    engine: Engine,
    name: str,
    stop: threading.Event,
    waiting: Callable[[], None] = lambda: None,
    poll_seconds: float = 1.0,
) -> Iterator[bool]:
    """Holds the lock of the indexer ``name`` on ``engine``'s database while the block runs;
    yields whether it got it (False: ``stop`` was set while it waited). ``waiting`` is called
    once if another process holds it. On SQLite, where one process indexes, it is always got."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    keys = {"first": INDEXER_LOCK_CLASS, "second": _name_key(name)}
    with engine.connect() as connection:
        told = False
        while not connection.execute(
            text("SELECT pg_try_advisory_lock(:first, :second)"), keys
        ).scalar_one():
            connection.commit()  # no transaction held open while waiting
            if not told:
                waiting()
                told = True
            if stop.wait(poll_seconds):
                yield False
                return
        connection.commit()
        try:
            yield True
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:first, :second)"), keys)
            connection.commit()


def _name_key(name: str) -> int:
    """A stable signed 32-bit key for ``name``."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)
