"""The verification's checks: one per projection, each comparing the live index with a witness.

A check is a function of a :class:`VerifyContext` that returns a :class:`CheckResult`: how many
records it compared and every :class:`Difference` it found, naming the record and the field.
:func:`check` makes it a :class:`Check`, naming the projection it covers and the contract whose
views (or logs) it reads, so that a contract's projections bring their own comparer: adding a
projection means adding a check to its contract's module of checks (``CHECKS``, see
:mod:`registry.audit.ledger_checks` for the shape), and a new module of checks joins the list in
:data:`registry.audit.verify.CHECKS`. Nothing registers itself on import.

Witnesses (:attr:`Check.source`):

- ``chain``: the contract's views, called at the index's block (:meth:`VerifyContext.views`), for
  every key the index holds *and* every key the chain's logs name, so that a record missing from
  the index is found as surely as a wrong one;
- ``logs``: the chain's logs themselves (:meth:`VerifyContext.logs`), for the rows that are a
  record of events (the events table, drawdowns and repayments, refusals), where no view keeps
  the history.

:func:`compare` does the comparing for every check: the checks only state both sides as records
(field -> value) in the index's spelling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from registry.artifacts import load_artifact
from registry.chain.client import Chain
from registry.chain.views import ContractViews
from registry.contracts.deploy import Deployment
from registry.db.read import projection_as_of
from registry.indexer.contracts import EVENT_TYPES
from registry.indexer.decode import Decoder, EventRecord
from registry.indexer.extract import BlockRange, Web3LogSource, fetch_logs, next_range

__all__ = [
    "Check",
    "CheckResult",
    "Difference",
    "Record",
    "VerifyContext",
    "check",
    "checks_by_name",
    "compare",
    "hex32",
]

Record = Mapping[str, object]
"""One record as a check states it: field name -> value, in the index's spelling."""

E = TypeVar("E", bound=EventRecord)

LOG_CHUNK = 2000
"""Blocks per ``eth_getLogs`` while collecting the chain's logs (halved where a node refuses)."""


def hex32(value: bytes) -> str:
    """A ``bytes32`` as the index spells it: ``0x`` and 64 hex digits."""
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class Difference:
    """One field of one record on which the index and a witness disagree. ``field`` is
    ``(record)`` when one side lacks the record altogether."""

    check: str
    source: str
    record: str
    field: str
    index: object
    witness: object

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.check,
            "source": self.source,
            "record": self.record,
            "field": self.field,
            "index": _jsonable(self.index),
            "witness": _jsonable(self.witness),
        }


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass
class CheckResult:
    name: str
    contract: str
    source: str
    compared: int
    differences: list[Difference] = field(default_factory=list)
    skipped: str | None = None
    """Why the check did not run (its table or contract is absent)."""

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.name,
            "contract": self.contract,
            "source": self.source,
            "compared": self.compared,
            "differences": len(self.differences),
            "skipped": self.skipped,
        }


MISSING = "(missing)"
PRESENT = "(present)"


def compare(
    name: str,
    contract: str,
    source: str,
    index: Mapping[str, Record | None],
    witness: Mapping[str, Record | None],
) -> CheckResult:
    """Compares the records of every key either side names; None (or no entry) means the side
    has no such record. Fields are the witness's: the index may hold more than a view shows."""
    result = CheckResult(name, contract, source, compared=0)
    for key in sorted(set(index) | set(witness)):
        mine, theirs = index.get(key), witness.get(key)
        result.compared += 1
        if mine is None and theirs is None:
            continue
        if mine is None or theirs is None:
            result.differences.append(
                Difference(
                    name,
                    source,
                    key,
                    "(record)",
                    MISSING if mine is None else PRESENT,
                    MISSING if theirs is None else PRESENT,
                )
            )
            continue
        for field_name, expected in theirs.items():
            found = mine.get(field_name)
            if found != expected:
                result.differences.append(
                    Difference(name, source, key, field_name, found, expected)
                )
    return result


class VerifyContext:
    """What the checks read: the live index and the chain, both at the index's block."""

    def __init__(self, engine: sa.Engine, chain: Chain, deployment: Deployment, block: int) -> None:
        self.engine = engine
        self.chain = chain
        self.deployment = deployment
        self.block = block
        self._views: dict[str, ContractViews] = {}
        self._logs: list[EventRecord] | None = None
        self._tables: set[str] | None = None

    # -- the index --------------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        if self._tables is None:
            self._tables = set(sa.inspect(self.engine).get_table_names())
        return name in self._tables

    def current(self, table: sa.Table) -> list[dict[str, Any]]:
        """The versions of a versioned projection valid at the block."""
        with self.engine.connect() as connection:
            return [dict(row) for row in projection_as_of(connection, table, self.block)]

    def appended(self, table: sa.Table) -> list[dict[str, Any]]:
        """The rows of an append-only table up to the block."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(table).where(table.c.block_number <= self.block))
            return [dict(row) for row in rows.mappings()]

    # -- the chain --------------------------------------------------------------------------------

    def has_contract(self, name: str) -> bool:
        return name in self.deployment.contracts

    def address(self, name: str) -> str:
        return self.chain.w3.to_checksum_address(self.deployment.address_of(name))

    def views(self, name: str) -> ContractViews:
        """The views of contract ``name`` at the block."""
        if name not in self._views:
            contract = self.chain.w3.eth.contract(
                address=self.chain.w3.to_checksum_address(self.address(name)),
                abi=load_artifact(name).abi,
            )
            self._views[name] = ContractViews(self.chain, contract, self.block)
        return self._views[name]

    def logs(self) -> list[EventRecord]:
        """Every log of the deployment up to the block, decoded, in chain order (read once)."""
        if self._logs is None:
            decoder = Decoder.for_deployment(self.deployment, EVENT_TYPES)
            source = Web3LogSource(self.chain.w3)
            records: list[EventRecord] = []
            indexed = self.deployment.deployment_block - 1
            while (block_range := next_range(indexed, self.block, LOG_CHUNK)) is not None:
                raw = fetch_logs(source, decoder.addresses, block_range)
                records += decoder.decode_all(raw)
                indexed = block_range.end
            self._logs = sorted(records, key=lambda r: r.position)
        return self._logs

    def events_of(self, kind: type[E]) -> list[E]:
        """The chain's logs of one record type, in chain order."""
        return [r for r in self.logs() if isinstance(r, kind)]

    def block_range(self) -> BlockRange:
        return BlockRange(self.deployment.deployment_block, self.block)


CheckFunction = Callable[[VerifyContext], CheckResult]


@dataclass(frozen=True)
class Check:
    """A check: the projection (its table) it covers, the contract it reads, how."""

    name: str
    table: str
    contract: str
    source: str
    run: CheckFunction

    def __call__(self, context: VerifyContext) -> CheckResult:
        if not context.has_table(self.table):
            return CheckResult(
                self.name, self.contract, self.source, 0, skipped=f"no table {self.table}"
            )
        if self.contract != "*" and not context.has_contract(self.contract):
            return CheckResult(
                self.name,
                self.contract,
                self.source,
                0,
                skipped=f"the deployment has no {self.contract}",
            )
        return self.run(context)


def check(
    name: str, *, table: str | None = None, contract: str, source: str
) -> Callable[[CheckFunction], Check]:
    """Makes a function the :class:`Check` of projection ``name`` (table ``table``, by default the
    same name) reading ``contract`` ("*": every contract of the deployment) through ``source``."""

    def make(function: CheckFunction) -> Check:
        return Check(name, table or name, contract, source, function)

    return make


def checks_by_name(*checks: Check) -> dict[str, Check]:
    """``checks`` by name, in their order; two of one name are refused."""
    found: dict[str, Check] = {}
    for one in checks:
        if found.setdefault(one.name, one) is not one:
            raise ValueError(f"two checks named {one.name}")
    return found


def keyed(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, Mapping[str, Any]]:
    """Rows by the value of their ``key`` column."""
    return {str(row[key]): row for row in rows}
