"""The chain decides the roles: before the API acts for an institution, its account must hold the
role on the contract, on chain.

The ``api_keys`` table says what an institution is meant to be (a bank's key says ``lender``); the
consortium admin grants and revokes what it may do, on chain. So before the API signs a write for a
bank, or answers it as a bank (the duplicate check), :meth:`ChainRoles.require` asks the contract
being written to (``hasRole``) whether the bank's account holds the role that contract checks for
it, the one :data:`registry.contracts.roles.CONTRACT_ROLES` grants it. A missing role is
:class:`~registry.errors.MissingRole` (403 ``missing-role``, naming the role and the contract),
raised before any transaction is built, so nothing is estimated, signed or sent.

A granted role is cached, so that each request does not cost a call to the node; the cache is the
part that could let a revoked bank through, so it is kept on a short leash:

- Only grants are cached. A missing role is asked again at the next request, so a new grant works
  at once.
- A role event invalidates the cache. The indexer keeps the ``role_grants`` projection from the
  contracts' ``RoleGranted`` and ``RoleRevoked`` events; every version it adds, ends or rolls back
  changes the projection's *watermark* (its count of versions and its newest block numbers), which
  the API reads from the index database at each check: one small query, no call to the node. A
  cached grant counts only while the watermark is the one read before the grant was asked of the
  chain (read before, so that a revocation indexed while the chain was being asked is not missed).
  So a revocation takes effect for the API as soon as the index shows it: on the next request
  after the indexer's next step (with ``creditreg up`` or ``creditreg index``, half a second on a
  dev chain, plus the confirmations it waits for).
- A cached grant lives :data:`MAX_AGE_SECONDS` at most, for when the index does not move (no
  indexer running, an indexer far behind): a revocation then takes effect within that time.
- Writes have a second gate regardless: the contracts check the role themselves, and the API
  estimates every transaction before signing it, so a grant cached a moment too long ends in the
  same 403 (from the chain's ``AccessControlUnauthorizedAccount``) with nothing signed or sent.

Why not the index alone: it trails the chain, so a bank granted its role a moment ago would be
refused, and an API whose indexer has stopped would refuse everybody. Why not the chain alone at
every request: it is one more round trip to the node per request, where the index answers whether
anything changed from the database the API reads anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from sqlalchemy import Engine, func, select

from registry.contracts.binding import ConsortiumContract
from registry.db.schema import role_grants
from registry.errors import MissingRole

__all__ = ["MAX_AGE_SECONDS", "ChainRoles"]

MAX_AGE_SECONDS = 5.0
"""How long a cached grant counts while the index shows no role event."""

Watermark = tuple[int, int | None, int | None]


@dataclass(frozen=True)
class _Grant:
    watermark: Watermark
    asked_at: float


class ChainRoles:
    """Checks roles on chain, with a cache of grants that a role event in the index invalidates."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._max_age = max_age
        self._clock = clock
        self._grants: dict[tuple[str, str, str], _Grant] = {}
        # Routes run in a thread pool: several requests may check at once.
        self._lock = threading.Lock()

    def _watermark(self) -> Watermark:
        """Changes whenever the index adds, ends or rolls back a version of a role grant."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    func.count(),
                    func.max(role_grants.c.valid_from_block),
                    func.max(role_grants.c.valid_to_block),
                )
            ).one()
        return (int(row[0]), row[1], row[2])

    def require(
        self, contract: ConsortiumContract, role: str, account: ChecksumAddress, institution: str
    ) -> None:
        """Returns if ``account`` holds ``role`` (a role constant's name, ``LENDER_ROLE``) on
        ``contract``; raises :class:`MissingRole` otherwise."""
        key = (contract.address, role, account)
        watermark = self._watermark()
        with self._lock:
            grant = self._grants.get(key)
        if (
            grant is not None
            and grant.watermark == watermark
            and self._clock() - grant.asked_at < self._max_age
        ):
            return
        asked_at = self._clock()
        if contract.has_role(keccak(text=role), account):
            with self._lock:
                self._grants[key] = _Grant(watermark, asked_at)
            return
        with self._lock:
            self._grants.pop(key, None)
        raise MissingRole(
            f"{institution}'s account {account} does not hold {role} on {contract.NAME}: the "
            "consortium admin revoked it or never granted it",
            contract=contract.NAME,
            role=role,
            account=account,
        )
