"""Idempotency keys: a write sent again gets the first answer, never a second transaction.

A bank whose financing request timed out cannot know whether the tranche was drawn, so it sends
the request again. With the same ``Idempotency-Key`` (as payment APIs take it), the retry is
answered from this store (table ``idempotency_keys``, one row per institution and key):

- **claimed**: the first request inserts the row, owned by its process, with the request's
  digest. A key sent again with another request is refused (:class:`InvalidInput`,
  ``idempotency-key-reused``);
- **signed**: the transaction signed for it is kept (hash, sender, nonce, and which of its calls
  was the request's where several shared it) *before* it is sent
  (:meth:`Claim.signed`), so a process killed after sending leaves a transaction its successor
  can follow, never one it would send twice;
- **answered**: the answer (status, body, headers) and the block it waits for the index to
  reach are kept (:meth:`Claim.answer`) and replayed as they were to every retry, while the
  transaction is in that block: one a reorganization took out of it is followed anew
  (:meth:`IdempotencyStore.reopen`), and the retry gets its real fate.

A retry that finds the row still claimed waits for the answer while its owner lives. The owner is
known dead when it ran on this host and its process is gone, or when its lease has expired (an
owner on another host); the retry then takes the row over (:attr:`Claim.sent` is the transaction
its predecessor signed, if any) and finishes the work. Where nothing was sent (the node was down,
the transaction was dropped), the row is given up (:meth:`Claim.release`) and a retry starts anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from registry.chain.client import SentTx
from registry.db.schema import idempotency_keys
from registry.errors import InvalidInput

__all__ = [
    "LEASE",
    "Answer",
    "Claim",
    "IdempotencyStore",
    "Pending",
    "request_digest",
]

LEASE = timedelta(minutes=10)
"""How long a claim holds against a retry from another host: longer than any write can take (the
receipt's wait and the index's wait together), so only a dead owner's claim runs out."""


def request_digest(method: str, path: str, body: Mapping[str, Any]) -> str:
    """SHA-256 of the request as the API understood it: the same request in other whitespace or
    key order has the same digest."""
    canonical = json.dumps(
        {"method": method, "path": path, "body": body}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), which tells a process from a
    later one given the same pid; None where there is no such process, or only its zombie (dead,
    not yet reaped by its parent: a killed API worker until its supervisor notices)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if len(fields) < 20 or fields[0] in {"Z", "X"}:
        return None
    return fields[19]


def _this_process() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or '-'}"


def _owner_alive(owner: str) -> bool | None:
    """Whether the process ``owner`` names still runs: known on this host, None elsewhere."""
    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    return _process_start(int(pid)) == start


@dataclass(frozen=True)
class Answer:
    """A stored answer, as it was first sent."""

    status_code: int
    body: Any
    headers: dict[str, str]
    tx_block: int | None
    sent: SentTx | None = None
    """The transaction the answer came from, if one was sent: an answer stands only while its
    transaction is where the answer says (:meth:`IdempotencyStore.reopen`)."""


@dataclass(frozen=True)
class Pending:
    """The key is being answered by a live owner: come back later."""


class Claim:
    """This process answers the key: record what it signs, then the answer, or give it up."""

    def __init__(self, store: IdempotencyStore, institution: str, key: str, sent: SentTx | None):
        self._store, self.institution, self.key = store, institution, key
        self.sent = sent
        """The transaction a previous owner signed for this key, to follow before anything
        else is sent; None for a fresh claim."""

    def signed(self, sent: SentTx) -> None:
        """Keeps ``sent`` before it goes to the node (:data:`registry.chain.client.OnSigned`)."""
        self._store._update(
            self.institution,
            self.key,
            tx_hash=sent.tx_hash,
            tx_sender=sent.sender,
            tx_nonce=sent.nonce,
            tx_part=sent.part,
        )
        self.sent = sent

    def answer(
        self, status_code: int, body: Any, headers: Mapping[str, str], tx_block: int | None
    ) -> None:
        """Keeps the answer for every retry and ends the claim."""
        self._store._update(
            self.institution,
            self.key,
            status_code=status_code,
            response_body=json.dumps(body),
            response_headers=json.dumps(dict(headers)),
            tx_block=tx_block,
            owner=None,
            lease_until=None,
            answered_at=self._store.clock(),
        )

    def release(self) -> None:
        """Forgets the key: nothing was done for it, so a retry starts anew."""
        with self._store.engine.begin() as connection:
            connection.execute(
                sa.delete(idempotency_keys).where(*self._store._key(self.institution, self.key))
            )

    def abandon(self) -> None:
        """Ends the claim without an answer, keeping the signed transaction: the next retry takes
        over at once and follows it (the node or the index was too slow this time)."""
        self._store._update(self.institution, self.key, owner=None, lease_until=None)


class IdempotencyStore:
    """The ``idempotency_keys`` table of one database."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.owner = _this_process()

    def begin(self, institution: str, key: str, digest: str) -> Claim | Answer | Pending:
        """Claims ``key`` for a request with ``digest``, or says why not: its answer is known
        (:class:`Answer`), or a live owner is answering it (:class:`Pending`).

        Raises :class:`InvalidInput` (``idempotency-key-reused``) when the key came with
        another request.
        """
        now = self.clock()
        lease = now + LEASE
        with self.engine.begin() as connection:
            inserted = connection.execute(
                _insert_if_absent(self.engine).values(
                    institution=institution,
                    key=key,
                    request_digest=digest,
                    owner=self.owner,
                    lease_until=lease,
                )
            ).first()
            if inserted is not None:
                return Claim(self, institution, key, None)
            row = (
                connection.execute(sa.select(idempotency_keys).where(*self._key(institution, key)))
                .mappings()
                .one()
            )
            if row["request_digest"] != digest:
                raise InvalidInput(
                    "Idempotency-Key",
                    "idempotency-key-reused",
                    f"Idempotency-Key {key!r} was sent before with another request; use a new "
                    "key for a new request",
                )
            if row["status_code"] is not None:
                return Answer(
                    row["status_code"],
                    json.loads(row["response_body"]),
                    json.loads(row["response_headers"]),
                    row["tx_block"],
                    _sent(row),
                )
            if row["owner"] is not None and not self._given_up(row["owner"], row["lease_until"]):
                return Pending()
            # Take it over, unless another retry did so first.
            taken = connection.execute(
                sa.update(idempotency_keys)
                .where(*self._key(institution, key))
                .where(_same(idempotency_keys.c.owner, row["owner"]))
                .values(owner=self.owner, lease_until=lease)
            )
            if taken.rowcount != 1:
                return Pending()
            return Claim(self, institution, key, _sent(row))

    def reopen(self, institution: str, key: str, answer: Answer) -> Claim | None:
        """Withdraws ``answer``, whose transaction a reorganization took out of the block the
        answer waited for, and claims the key again to follow that transaction anew (mined
        again, dropped): the retry that noticed gets the transaction's real fate. None when
        another retry reopened it first."""
        if answer.sent is None:
            raise ValueError("an answer without a transaction cannot be reorganized away")
        with self.engine.begin() as connection:
            taken = connection.execute(
                sa.update(idempotency_keys)
                .where(*self._key(institution, key))
                .where(idempotency_keys.c.status_code.is_not(None))
                .where(idempotency_keys.c.tx_hash == answer.sent.tx_hash)
                .values(
                    owner=self.owner,
                    lease_until=self.clock() + LEASE,
                    status_code=None,
                    response_body=None,
                    response_headers=None,
                    tx_block=None,
                    answered_at=None,
                )
            )
        return Claim(self, institution, key, answer.sent) if taken.rowcount == 1 else None

    def _given_up(self, owner: str, lease_until: datetime | None) -> bool:
        alive = _owner_alive(owner)
        if alive is not None:
            return not alive
        return lease_until is None or _utc(lease_until) < self.clock()

    @staticmethod
    def _key(institution: str, key: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (idempotency_keys.c.institution == institution, idempotency_keys.c.key == key)

    def _update(self, institution: str, key: str, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(idempotency_keys).where(*self._key(institution, key)).values(**values)
            )


def _sent(row: sa.RowMapping) -> SentTx | None:
    """The transaction a row keeps, if any."""
    if row["tx_hash"] is None:
        return None
    return SentTx(row["tx_hash"], row["tx_sender"], int(row["tx_nonce"]), row["tx_part"])


def _insert_if_absent(engine: Engine) -> Any:
    """INSERT that does nothing when the key exists, in the engine's dialect, returning the row
    it inserted (none when the key existed). Not the result's ``rowcount``: psycopg reports -1
    for an INSERT, so every fresh key looked taken on PostgreSQL."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(idempotency_keys).on_conflict_do_nothing().returning(idempotency_keys.c.key)
    )


def _same(column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
