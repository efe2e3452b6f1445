"""Locks that every process sharing the index database respects.

An account's transactions must be signed one at a time, each with the next nonce: threads of one
process queue on the signer's own lock, and the API's worker processes, which share a PostgreSQL
database, also queue on a PostgreSQL advisory lock per account (:func:`account_lock`). A
worker killed while holding one loses its connection, and the lock with it.

On SQLite there is one process (``creditreg up`` or a single ``serve``), so there is no such lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Engine, text

__all__ = ["ACCOUNT_LOCK_CLASS", "AccountLock", "account_lock"]

ACCOUNT_LOCK_CLASS = 0x63726567  # "creg": the first key of every account lock
"""The advisory lock's first key; the second is taken from the account's address."""

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
