"""The auditor's tools: replay the chain, verify the index, report a block range, digest an index.

- :mod:`~registry.audit.canonical`: an index's canonical rows (no surrogate keys, no wall-clock
  columns, values normalized across databases), as of any block; dumps and their differences;
- :mod:`~registry.audit.digest`: one hash of the canonical index, to compare without sharing rows;
- :mod:`~registry.audit.replay`: the whole index rebuilt from the chain into a fresh database;
- :mod:`~registry.audit.checks`: what a per-projection check is (:class:`~.checks.Check`), what it
  reads (:class:`~.checks.VerifyContext`) and the comparer; imports no module of checks;
- one module of checks per contract, each listing its own as ``CHECKS``:
  :mod:`~registry.audit.ledger_checks` (the ReceivableLedger's views),
  :mod:`~registry.audit.pledge_checks` (the PledgeRegistry's), :mod:`~registry.audit.consent_checks`
  (the ConsentRegistry's), :mod:`~registry.audit.access_checks` (every contract's roles and
  institutions) and :mod:`~registry.audit.log_checks` (the rows that record events, against the
  logs);
- :mod:`~registry.audit.verify`: live index, replay and contract views compared record by record;
  its :data:`~.verify.CHECKS` lists those modules, the one place where a check joins;
- :mod:`~registry.audit.report`: refused attempts, seizures, role changes, consents and read-log
  anchors of a block range, from the events table;
- :mod:`~registry.audit.render`: their Rich tables.

``creditreg audit replay|verify|report|digest`` (:mod:`creditreg.cli`) runs them.
"""

from __future__ import annotations

from registry.audit.canonical import diff_dumps, dump_database, index_tables
from registry.audit.digest import IndexDigest, digest_index
from registry.audit.replay import ReplaySummary, replay
from registry.audit.report import SECTIONS, AuditReport, build_report
from registry.audit.verify import VerifyReport, verify

__all__ = [
    "SECTIONS",
    "AuditReport",
    "IndexDigest",
    "ReplaySummary",
    "VerifyReport",
    "build_report",
    "diff_dumps",
    "digest_index",
    "dump_database",
    "index_tables",
    "replay",
    "verify",
]
