"""The off-chain index, rebuilt from contract events alone, in ethereum-etl's shape.

Generic machinery (imports no contract's module):

- :mod:`~registry.indexer.extract`: chunked ``eth_getLogs`` over the deployment's addresses, a
  range the node refuses is halved;
- :mod:`~registry.indexer.decode`: :class:`EventRecord` (the base of every event's frozen, typed
  record) and the :class:`Decoder` that builds records from raw logs, by the ABI;
- :mod:`~registry.indexer.load`: the chunk :class:`Loader`: one handler per event applied in
  memory to its contract's working set (:class:`WorkingSet`), written in bulk, idempotent on real
  unique keys; :class:`IndexedContract`, what a contract's module brings to it;
- :mod:`~registry.indexer.versioned`: one versioned projection's working set for a chunk.

One module per contract, holding its event records, its projections' working set and its handlers,
as one :class:`IndexedContract` named ``CONTRACT``:

- :mod:`~registry.indexer.ledger`: the ReceivableLedger (receivables, declarations, financings,
  attestations, advance rates, refusals);
- :mod:`~registry.indexer.pledges`: the PledgeRegistry (properties, pledges, seizures);
- :mod:`~registry.indexer.consents`: the ConsentRegistry (bindings, consents, read-log anchors);
- :mod:`~registry.indexer.access`: every contract's roles and institution assignments.

:mod:`~registry.indexer.contracts` lists them (:data:`CONTRACTS`) and builds :data:`EVENT_TYPES`
from the list: the one place where a contract joins the index.

Around them:

- :mod:`~registry.indexer.cursor`: the last indexed block and its hash, moved with the rows;
- :mod:`~registry.indexer.reorg`: kept block hashes, the common ancestor, the rollback;
- :mod:`~registry.indexer.progress`: events and step times per chunk, for the status and metrics;
- :mod:`~registry.indexer.status`: :class:`IndexStatus`, where the index stands, read from the
  database and the node by any process (the indexer, the API);
- :mod:`~registry.indexer.runner`: :class:`Indexer`, the loop that ties them together, given
  :data:`CONTRACTS`.

Reading the projections, now or as of a past block, is :mod:`registry.db.read`.

Typical use (what ``creditreg index`` does)::

    indexer = Indexer.from_settings(engine, chain, deployment, settings, pause_gc=True)
    indexer.run_until_caught_up()      # or run_forever(stop_event)
    indexer.status().indexed_block
"""

from __future__ import annotations

from registry.indexer.access import (
    AccessProjections,
    InstitutionAssigned,
    RoleAdminChanged,
    RoleGranted,
    RoleRevoked,
)
from registry.indexer.consents import (
    ConsentGranted,
    ConsentProjections,
    ConsentRevoked,
    EIP712DomainChanged,
    EnterpriseBound,
    EnterpriseUnbound,
    ReadLogAnchored,
)
from registry.indexer.contracts import CONTRACTS, EVENT_TYPES
from registry.indexer.cursor import (
    CURSOR_NAME,
    Cursor,
    IndexerState,
    read_cursor,
    read_state,
    write_cursor,
)
from registry.indexer.decode import Decoder, EventRecord, RawLog
from registry.indexer.errors import IndexConflict, ReorgDetected, UndecodableLog, UnknownEvent
from registry.indexer.extract import (
    BlockRange,
    LogSource,
    Web3LogSource,
    block_hash,
    fetch_logs,
    next_range,
)
from registry.indexer.ledger import (
    AdvanceRatesSet,
    DeclarationAttested,
    DeclarationCounted,
    DeclarationFinanced,
    DeclarationLinked,
    DeclarationRepaid,
    FinancingRefused,
    LedgerProjections,
    ReceivableCancelled,
    ReceivableFinanced,
    ReceivableRegistered,
    ReceivableRepaid,
    RegistrationRefused,
    status_name,
)
from registry.indexer.load import Handler, IndexedContract, Loader, WorkingSet
from registry.indexer.pledges import (
    AppraisalUpdated,
    DefaultMaxLtvSet,
    PledgeApplied,
    PledgeApproved,
    PledgeProjections,
    PledgeRejected,
    PledgeReleased,
    PropertyRegistered,
    SeizureImposed,
    SeizureLifted,
)
from registry.indexer.reorg import REORG_WINDOW, Rollback
from registry.indexer.runner import Indexer, StepResult
from registry.indexer.status import IndexStatus, read_index_status
from registry.indexer.versioned import VersionedTable

__all__ = [
    "CONTRACTS",
    "CURSOR_NAME",
    "EVENT_TYPES",
    "REORG_WINDOW",
    "AccessProjections",
    "AdvanceRatesSet",
    "AppraisalUpdated",
    "BlockRange",
    "ConsentGranted",
    "ConsentProjections",
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
    "IndexStatus",
    "IndexedContract",
    "Indexer",
    "IndexerState",
    "InstitutionAssigned",
    "LedgerProjections",
    "Loader",
    "LogSource",
    "PledgeApplied",
    "PledgeApproved",
    "PledgeProjections",
    "PledgeRejected",
    "PledgeReleased",
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
    "WorkingSet",
    "block_hash",
    "fetch_logs",
    "next_range",
    "read_cursor",
    "read_index_status",
    "read_state",
    "status_name",
    "write_cursor",
]
