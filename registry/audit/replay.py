"""Replay: the whole index rebuilt from the chain, from the deployment block, into a fresh database.

The replay is the indexer itself (:class:`~registry.indexer.Indexer`) run on an empty database: the
audit proves that the code which built the live index builds the same index again from the chain
alone, and the verification (:mod:`registry.audit.verify`) then compares the two record by record
and both with the contracts' views. A database that holds any row already is refused, since a
replay on top of something else proves nothing.

``to_block`` stops the replay near a block (the live index's cursor, so that both describe the
same chain): the indexer is given as many confirmations as the head is ahead of it. If the chain
grows meanwhile the replay may index a little further; comparisons and digests are then taken as
of ``to_block`` (:func:`registry.audit.canonical.index_tables`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from registry.audit.digest import IndexDigest, digest_index
from registry.chain.client import Chain
from registry.contracts.deploy import Deployment
from registry.db import create_schema
from registry.errors import ConfigurationError
from registry.indexer import Indexer

__all__ = ["ReplaySummary", "ensure_fresh", "replay"]


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay did."""

    database: str
    """The replay database's URL, password hidden."""
    first_block: int
    last_block: int
    """The block the replay is taken as of (its digest's)."""
    events: int
    seconds: float
    digest: IndexDigest

    @property
    def blocks(self) -> int:
        return self.last_block - self.first_block + 1

    def to_json(self) -> dict[str, object]:
        return {
            "database": self.database,
            "first_block": self.first_block,
            "last_block": self.last_block,
            "blocks": self.blocks,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "digest": self.digest.digest,
        }


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def ensure_fresh(engine: sa.Engine) -> None:
    """Raises ConfigurationError unless every table behind ``engine`` (if any) is empty."""
    reflected = sa.MetaData()
    reflected.reflect(engine)
    with engine.connect() as connection:
        for table in reflected.sorted_tables:
            if table.name == "alembic_version":
                continue
            if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                raise ConfigurationError(
                    f"the replay database {_url(engine)} is not empty (table {table.name} has "
                    "rows): a replay must start from a fresh database; give another URL or empty "
                    "this one",
                    table=table.name,
                )


def replay(
    engine: sa.Engine,
    chain: Chain,
    deployment: Deployment,
    *,
    to_block: int | None = None,
    chunk_size: int = 2000,
    clock: Callable[[], float] = time.monotonic,
) -> ReplaySummary:
    """Indexes the deployment's events from its first block to ``to_block`` (None: the head)
    into the fresh database behind ``engine``."""
    ensure_fresh(engine)
    create_schema(engine)
    head = chain.block_number()
    target = head if to_block is None else to_block
    if target > head:
        raise ConfigurationError(f"cannot replay to block {target}: the chain's head is {head}")
    indexer = Indexer(engine, chain, deployment, confirmations=head - target, chunk_size=chunk_size)
    started = clock()
    indexer.run_until_caught_up()
    seconds = clock() - started
    digest = digest_index(engine, as_of=target)
    return ReplaySummary(
        database=_url(engine),
        first_block=deployment.deployment_block,
        last_block=target,
        # As of the target: a chain that grew meanwhile may have given the replay a few more.
        events=digest.rows.get("events", 0),
        seconds=seconds,
        digest=digest,
    )
