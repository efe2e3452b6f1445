"""The off-chain index, rebuilt from contract events alone, in ethereum-etl's shape.

- :mod:`~registry.indexer.extract`: chunked ``eth_getLogs`` over the deployment's addresses, a
  range the node refuses is halved;
- :mod:`~registry.indexer.decode`: one frozen, typed record per event, from the ABI;
  the records and handlers of the pledge registry's, the consent registry's and the access events
  in :mod:`~registry.indexer.pledges`, :mod:`~registry.indexer.consents` and
  :mod:`~registry.indexer.access`;
- :mod:`~registry.indexer.load`: a chunk at a time, one handler per event applied in memory to
  versioned projections (:mod:`~registry.indexer.versioned`: one projection's working set),
  written in bulk; idempotent on real unique keys; attestations, rates, balances and refusals in
  :mod:`~registry.indexer.receivable_policy`;
- :mod:`~registry.indexer.progress`: events and step times per chunk, for the status and metrics;
- :mod:`~registry.indexer.cursor`: the last indexed block and its hash, moved with the rows;
- :mod:`~registry.indexer.reorg`: kept block hashes, the common ancestor, the rollback;
- :mod:`~registry.indexer.runner`: :class:`Indexer`, the loop that ties them together.

Reading the projections, now or as of a past block, is :mod:`registry.db.read`.

Typical use (what ``creditreg index`` does)::

    indexer = Indexer.from_settings(engine, chain, deployment, settings)
    indexer.run_until_caught_up()      # or run_forever(stop_event)
    indexer.status().indexed_block
"""

from __future__ import annotations

from registry.indexer.access import InstitutionAssigned
from registry.indexer.consents import (
    ConsentGranted,
    ConsentRevoked,
    EIP712DomainChanged,
    EnterpriseBound,
    EnterpriseUnbound,
    ReadLogAnchored,
)
from registry.indexer.cursor import Cursor, IndexerState, read_cursor, read_state, write_cursor
from registry.indexer.decode import (
    EVENT_TYPES,
    AdvanceRatesSet,
    DeclarationAttested,
    DeclarationCounted,
    DeclarationFinanced,
    DeclarationLinked,
    DeclarationRepaid,
    Decoder,
    EventRecord,
    FinancingRefused,
    RawLog,
    ReceivableCancelled,
    ReceivableFinanced,
    ReceivableRegistered,
    ReceivableRepaid,
    RegistrationRefused,
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
from registry.indexer.load import (
    DEFAULT_HANDLERS,
    Handler,
    Loader,
    Projections,
    status_name,
)
from registry.indexer.pledges import (
    AppraisalUpdated,
    DefaultMaxLtvSet,
    PledgeApplied,
    PledgeApproved,
    PledgeRejected,
    PledgeReleased,
    PropertyRegistered,
    SeizureImposed,
    SeizureLifted,
)
from registry.indexer.reorg import REORG_WINDOW, Rollback
from registry.indexer.runner import CURSOR_NAME, Indexer, IndexerStatus, StepResult
from registry.indexer.versioned import VersionedTable

__all__ = [
    "CURSOR_NAME",
    "DEFAULT_HANDLERS",
    "EVENT_TYPES",
    "REORG_WINDOW",
    "AdvanceRatesSet",
    "AppraisalUpdated",
    "BlockRange",
    "ConsentGranted",
    "ConsentRevoked",
    "Cursor",
    "DeclarationAttested",
    "DeclarationCounted",
    "DeclarationFinanced",
    "DeclarationLinked",
    "DeclarationRepaid",
    "Decoder",
    "DefaultMaxLtvSet",
    "EIP712DomainChanged",
    "EnterpriseBound",
    "EnterpriseUnbound",
    "EventRecord",
    "FinancingRefused",
    "Handler",
    "IndexConflict",
    "Indexer",
    "IndexerState",
    "IndexerStatus",
    "InstitutionAssigned",
    "Loader",
    "LogSource",
    "PledgeApplied",
    "PledgeApproved",
    "PledgeRejected",
    "PledgeReleased",
    "Projections",
    "PropertyRegistered",
    "RawLog",
    "ReadLogAnchored",
    "ReceivableCancelled",
    "ReceivableFinanced",
    "ReceivableRegistered",
    "ReceivableRepaid",
    "RegistrationRefused",
    "ReorgDetected",
    "RoleAdminChanged",
    "RoleGranted",
    "RoleRevoked",
    "Rollback",
    "SeizureImposed",
    "SeizureLifted",
    "StepResult",
    "UndecodableLog",
    "UnknownEvent",
    "VersionedTable",
    "Web3LogSource",
    "block_hash",
    "fetch_logs",
    "next_range",
    "read_cursor",
    "read_state",
    "status_name",
    "write_cursor",
]
