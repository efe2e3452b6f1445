"""The off-chain index, rebuilt from contract events alone, in ethereum-etl's shape.

- :mod:`~registry.indexer.extract`: chunked ``eth_getLogs`` over the deployment's addresses, a
  range the node refuses is halved;
- :mod:`~registry.indexer.decode`: one frozen, typed record per event, from the ABI;
- :mod:`~registry.indexer.load`: one handler per event, idempotent on real unique keys;
- :mod:`~registry.indexer.cursor`: the last indexed block and its hash, moved with the rows;
- :mod:`~registry.indexer.runner`: :class:`Indexer`, the loop that ties them together.

Typical use (what ``creditreg index`` does)::

    indexer = Indexer.from_settings(engine, chain, deployment, settings)
    indexer.run_until_caught_up()      # or run_forever(stop_event)
    indexer.status().indexed_block
"""

from __future__ import annotations

from registry.indexer.cursor import Cursor, read_cursor, write_cursor
from registry.indexer.decode import (
    EVENT_TYPES,
    AdvanceRateSet,
    DeclarationLinked,
    Decoder,
    EventRecord,
    RawLog,
    ReceivableCancelled,
    ReceivableFinanced,
    ReceivableRegistered,
    ReceivableRepaid,
    RoleAdminChanged,
    RoleGranted,
    RoleRevoked,
)
from registry.indexer.errors import IndexConflict, ReorgDetected, UndecodableLog, UnknownEvent
from registry.indexer.extract import (
    BlockRange,
    LogSource,
    Web3LogSource,
    block_hash,
    fetch_logs,
    next_range,
)
from registry.indexer.load import DEFAULT_HANDLERS, Handler, Loader, status_name
from registry.indexer.runner import CURSOR_NAME, Indexer, IndexerStatus, StepResult

__all__ = [
    "CURSOR_NAME",
    "DEFAULT_HANDLERS",
    "EVENT_TYPES",
    "AdvanceRateSet",
    "BlockRange",
    "Cursor",
    "DeclarationLinked",
    "Decoder",
    "EventRecord",
    "Handler",
    "IndexConflict",
    "Indexer",
    "IndexerStatus",
    "Loader",
    "LogSource",
    "RawLog",
    "ReceivableCancelled",
    "ReceivableFinanced",
    "ReceivableRegistered",
    "ReceivableRepaid",
    "ReorgDetected",
    "RoleAdminChanged",
    "RoleGranted",
    "RoleRevoked",
    "StepResult",
    "UndecodableLog",
    "UnknownEvent",
    "Web3LogSource",
    "block_hash",
    "fetch_logs",
    "next_range",
    "read_cursor",
    "status_name",
    "write_cursor",
]
