"""API keys: stored as hashes, looked up to the institution that presents them, revocable.

The secrets file (:mod:`registry.credentials`) holds the plain keys; the database holds only their
SHA-256 hashes (:func:`registry.credentials.hash_api_key`), so a copy of the database lets nobody
call the API. A key is a 256-bit random token, so a fast unsalted hash is enough: there is nothing
to brute-force, and the lookup stays one indexed equality on the hash.

The secrets file is authoritative for the keys: :func:`store_api_keys`, run at every start of the
API, makes the table's working keys exactly the file's. A key the file no longer holds (its
institution was removed, or its key replaced) is revoked there and then, so it stops working at the
next start instead of living on in the database.

Keys are also revoked at run time (:func:`revoke_api_keys`, ``creditreg keys revoke``): the lookup
runs at every request and ignores revoked keys, so a revocation takes effect on the next request,
without a restart. A revoked key is marked, not deleted, and storing the file's keys never revives
it: to let an institution in again, give it a new key in the secrets file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from eth_typing import ChecksumAddress
from sqlalchemy import Engine, and_, insert, select, update

from registry.contracts.roles import Role
from registry.credentials import hash_api_key
from registry.db.schema import api_keys
from registry.errors import InvalidInput

__all__ = [
    "KEY_ID_LENGTH",
    "ApiKeyHolder",
    "Principal",
    "StoredKey",
    "list_api_keys",
    "lookup",
    "revoke_api_keys",
    "store_api_keys",
]

KEY_ID_LENGTH = 12
"""Hex digits of a key's hash that name it in listings: enough to tell a handful of keys apart,
and a hash prefix says nothing about the key itself."""

REPLACED = "replaced in the secrets file"
REMOVED = "institution removed from the secrets file"
_KEY_ID = re.compile(r"[0-9a-f]{4,64}")


class ApiKeyHolder(Protocol):
    """Whoever holds an API key: an institution the API signs for, or one it only authenticates."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def account(self) -> ChecksumAddress: ...
    @property
    def api_key(self) -> str: ...


@dataclass(frozen=True)
class Principal:
    """Who is calling: the institution behind an API key, its role and its chain account."""

    institution: str
    role: Role
    account: ChecksumAddress | None


@dataclass(frozen=True)
class StoredKey:
    """A stored key as an operator sees it: named by a prefix of its hash, never the key."""

    key_id: str
    institution: str
    role: str
    account: str | None
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None


def store_api_keys(
    engine: Engine, holders: Iterable[ApiKeyHolder], now: datetime | None = None
) -> None:
    """Makes the table's working keys exactly the given holders' keys (hashed), with their role
    and account; idempotent.

    Any other key still working is revoked: a replaced key, and every key of an institution the
    holders no longer include. A key revoked before stays revoked. Runs in one transaction: a
    crash leaves the previous keys in place, never a mix.
    """
    now = now or datetime.now(UTC)
    rows = {
        hash_api_key(holder.api_key): {
            "institution": holder.name,
            "role": holder.role.value,
            "account": holder.account,
        }
        for holder in holders
    }
    names = sorted({row["institution"] for row in rows.values()})
    kept = list(rows)
    with engine.begin() as connection:
        working_elsewhere = and_(api_keys.c.revoked_at.is_(None), api_keys.c.key_hash.not_in(kept))
        for reason, whose in (
            (REPLACED, api_keys.c.institution.in_(names)),
            (REMOVED, api_keys.c.institution.not_in(names)),
        ):
            connection.execute(
                update(api_keys)
                .where(working_elsewhere, whose)
                .values(revoked_at=now, revoked_reason=reason)
            )
        # Select, then insert or update: portable across SQLite and PostgreSQL, and the table has
        # a handful of rows. Two API processes starting at the same instant could both insert; the
        # loser fails its start on the primary key and a restart succeeds.
        existing = set(
            connection.scalars(select(api_keys.c.key_hash).where(api_keys.c.key_hash.in_(kept)))
        )
        for key_hash, values in rows.items():
            if key_hash in existing:
                # revoked_at is left alone: the file holding a key does not undo its revocation.
                connection.execute(
                    update(api_keys).where(api_keys.c.key_hash == key_hash).values(**values)
                )
            else:
                connection.execute(insert(api_keys).values(key_hash=key_hash, **values))


def lookup(engine: Engine, api_key: str) -> Principal | None:
    """The principal holding ``api_key``, or None when no such key works (unknown or revoked).

    The key is hashed before the query, so neither the key nor a prefix of it reaches the database,
    and the query's timing depends on the hash only.
    """
    with engine.connect() as connection:
        row = connection.execute(
            select(api_keys.c.institution, api_keys.c.role, api_keys.c.account).where(
                api_keys.c.key_hash == hash_api_key(api_key), api_keys.c.revoked_at.is_(None)
            )
        ).one_or_none()
    if row is None:
        return None
    try:
        role = Role(row.role)
    except ValueError:
        # A role this code does not know (written by a newer version) grants nothing here.
        return None
    account = ChecksumAddress(row.account) if row.account is not None else None
    return Principal(institution=row.institution, role=role, account=account)


def list_api_keys(engine: Engine) -> list[StoredKey]:
    """Every stored key, working and revoked, by institution."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(api_keys).order_by(api_keys.c.institution, api_keys.c.created_at)
        ).all()
    return [
        StoredKey(
            key_id=row.key_hash[:KEY_ID_LENGTH],
            institution=row.institution,
            role=row.role,
            account=row.account,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            revoked_reason=row.revoked_reason,
        )
        for row in rows
    ]


def revoke_api_keys(
    engine: Engine,
    institution: str,
    *,
    key_id: str | None = None,
    reason: str = "revoked by an operator",
    now: datetime | None = None,
) -> list[str]:
    """Revokes the institution's working keys (only the one whose hash starts with ``key_id``,
    when given); returns the ids of the keys revoked, none when nothing matched."""
    conditions = [api_keys.c.institution == institution, api_keys.c.revoked_at.is_(None)]
    if key_id is not None:
        if not _KEY_ID.fullmatch(key_id):
            raise InvalidInput(
                "key_id", "key-id-format", "a key id is 4 to 64 lowercase hex digits"
            )
        conditions.append(api_keys.c.key_hash.startswith(key_id))
    with engine.begin() as connection:
        revoked = list(connection.scalars(select(api_keys.c.key_hash).where(*conditions)))
        if revoked:
            connection.execute(
                update(api_keys)
                .where(api_keys.c.key_hash.in_(revoked))
                .values(revoked_at=now or datetime.now(UTC), revoked_reason=reason[:200])
            )
    return sorted(key_hash[:KEY_ID_LENGTH] for key_hash in revoked)
