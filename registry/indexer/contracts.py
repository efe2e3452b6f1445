"""Every contract the index knows, listed: the one place their records and handlers come together.

Each entry is a contract module's :class:`~registry.indexer.load.IndexedContract` (its working set
and one handler per event record). The decoder takes :data:`EVENT_TYPES` from this list and the
loader the list itself (:class:`~registry.indexer.runner.Indexer` hands both over), so a new
contract's events are indexed once its module is listed here; nothing registers itself on import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from registry.errors import ConfigurationError
from registry.indexer import access, consents, ledger, pledges, upgrades
from registry.indexer.decode import EventRecord
from registry.indexer.load import IndexedContract

__all__ = ["CONTRACTS", "EVENT_TYPES", "event_types"]

CONTRACTS: tuple[IndexedContract[Any], ...] = (
    ledger.CONTRACT,
    access.CONTRACT,
    pledges.CONTRACT,
    consents.CONTRACT,
    upgrades.CONTRACT,
)
"""What the indexer indexes, in the order the loader writes each chunk's rows."""


def event_types(contracts: Sequence[IndexedContract[Any]]) -> Mapping[str, type[EventRecord]]:
    """The record classes of ``contracts`` by Solidity event name; two of one name are refused."""
    found: dict[str, type[EventRecord]] = {}
    for contract in contracts:
        for record in contract.records:
            name = record.__name__
            if found.setdefault(name, record) is not record:
                raise ConfigurationError(f"two event records are named {name}")
    return found


EVENT_TYPES: Mapping[str, type[EventRecord]] = event_types(CONTRACTS)
"""Every event the indexer knows, by Solidity name."""
