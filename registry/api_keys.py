"""API keys: stored as hashes, looked up to the institution that presents them.

The secrets file (or an operator) holds the plain keys; the database holds only their SHA-256 hashes
(:func:`registry.credentials.hash_api_key`), so a copy of the database lets nobody call the API.
A key is a 256-bit random token, so a fast unsalted hash is enough: there is nothing to brute-force,
and the lookup stays one indexed equality on the hash.

:func:`store_api_keys` makes the table say what the given institutions' keys are now: it is run at
every start of the API, so it upserts, and it drops any other key an institution held before (a key
replaced in the secrets file stops working at the next start instead of living on in the database).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from eth_typing import ChecksumAddress
from sqlalchemy import Engine, and_, delete, insert, select, update

from registry.credentials import Role, hash_api_key
from registry.db.schema import api_keys

__all__ = ["ApiKeyHolder", "Principal", "lookup", "store_api_keys"]


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


def store_api_keys(engine: Engine, holders: Iterable[ApiKeyHolder]) -> None:
    """Records each holder's API key (hashed) with its role and account; idempotent.

    Keys the same institutions held before under another value are removed. Runs in one
    transaction: a crash leaves the previous keys in place, never a mix.
    """
    rows = {
        hash_api_key(holder.api_key): {
            "institution": holder.name,
            "role": holder.role.value,
            "account": holder.account,
        }
        for holder in holders
    }
    names = {row["institution"] for row in rows.values()}
    with engine.begin() as connection:
        if names:
            connection.execute(
                delete(api_keys).where(
                    and_(
                        api_keys.c.institution.in_(sorted(names)),
                        api_keys.c.key_hash.not_in(list(rows)),
                    )
                )
            )
        # Select, then insert or update: portable across SQLite and PostgreSQL, and the table has
        # a handful of rows. Two API processes starting at the same instant could both insert; the
        # loser fails its start on the primary key and a restart succeeds.
        existing = set(
            connection.scalars(
                select(api_keys.c.key_hash).where(api_keys.c.key_hash.in_(list(rows)))
            )
        )
        for key_hash, values in rows.items():
            if key_hash in existing:
                connection.execute(
                    update(api_keys).where(api_keys.c.key_hash == key_hash).values(**values)
                )
            else:
                connection.execute(insert(api_keys).values(key_hash=key_hash, **values))


def lookup(engine: Engine, api_key: str) -> Principal | None:
    """The principal holding ``api_key``, or None when no such key is stored.

    The key is hashed before the query, so neither the key nor a prefix of it reaches the database,
    and the query's timing depends on the hash only.
    """
    with engine.connect() as connection:
        row = connection.execute(
            select(api_keys.c.institution, api_keys.c.role, api_keys.c.account).where(
                api_keys.c.key_hash == hash_api_key(api_key)
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
