"""Errors of the indexer, placed in the package's exception tree (see :mod:`registry.errors`).

The chain-side failures are :class:`~registry.errors.ChainError`s, as the node's answer is what
cannot be used; a database that contradicts the chain's events is its own kind::

    RegistryError
    ├── ChainError
    │   ├── ReorgDetected       a reorganization deeper than every block hash the index kept
    │   └── UndecodableLog      a log of our contracts that the ABI cannot explain
    │       └── UnknownEvent    ... because its topic0 is no event of the ABI
    └── IndexConflict           the index database disagrees with the chain's events

:class:`ReorgDetected`, :class:`UndecodableLog` and :class:`IndexConflict` stop the indexer:
retrying cannot help. Any other :class:`~registry.errors.ChainError` (node unreachable, a range
it will not serve) is retried by :meth:`registry.indexer.Indexer.run_forever`.
"""

from __future__ import annotations

from registry.errors import ChainError, RegistryError

__all__ = ["IndexConflict", "ReorgDetected", "UndecodableLog", "UnknownEvent"]


class ReorgDetected(ChainError):
    """The chain replaced the cursor's block, and no block whose hash the index kept is on the
    chain any more: there is no common ancestor to roll back to (shallower reorganizations are
    rolled back, see :mod:`registry.indexer.reorg`)."""

    rule = "reorg-detected"


class UndecodableLog(ChainError):
    """A log emitted by one of the deployment's contracts does not decode with its ABI."""

    rule = "undecodable-log"


class UnknownEvent(UndecodableLog):
    """A log of one of the deployment's contracts has a topic0 that no ABI event has."""

    rule = "unknown-event"


class IndexConflict(RegistryError):
    """The index holds something the chain's events contradict (a different log at an indexed
    position, an update of a receivable never registered, an event older than an entity's
    current version, a cursor moved by another writer)."""

    rule = "index-conflict"
