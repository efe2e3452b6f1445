"""Which code each contract runs: the upgrades of its ERC-1967 proxy, from its events.

Every contract of a deployment runs behind a proxy whose address never changes (see
``ConsortiumAccess``), so an upgrade keeps every record and the index simply goes on reading the
same address; what changes is the code, and the index keeps which code ran when.

Projection (see :mod:`registry.db.schema`): ``contract_code``, one entity per proxy, its version
the implementation named by the latest ``Upgraded`` (the first is the proxy's creation). Read as
of a block, it tells an auditor which rules were in force when a record was written.
``Initialized`` (the proxy's set-up, or a later version's re-initialization) has no projection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_typing import ChecksumAddress
from sqlalchemy import Connection

from registry.db.schema import contract_code
from registry.indexer.decode import EventRecord
from registry.indexer.load import IndexedContract, event_row_only
from registry.indexer.versioned import VersionedTable

__all__ = ["CONTRACT", "CodeProjections", "Initialized", "Upgraded"]


@dataclass(frozen=True, kw_only=True)
class Upgraded(EventRecord):
    implementation: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class Initialized(EventRecord):
    version: int


class CodeProjections:
    """The chunk's working set of ``contract_code``."""

    def __init__(self, connection: Connection) -> None:
        self.contract_code = VersionedTable(connection, contract_code, "contract")

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        self.contract_code.load({r.contract for r in records if isinstance(r, Upgraded)})

    def write(self) -> None:
        self.contract_code.write()


def _on_upgraded(p: CodeProjections, event: Upgraded) -> None:
    p.contract_code.put(
        event.contract,
        event.block_number,
        {"contract": event.contract, "implementation": event.implementation},
    )


CONTRACT: IndexedContract[CodeProjections] = IndexedContract(
    name="code (every contract)",
    projections=CodeProjections,
    handlers={Initialized: event_row_only, Upgraded: _on_upgraded},
)
"""The code records of every contract, each with its handler, and their working set."""
