"""The canonical form of an index: its rows without what differs between two indexes of one chain.

Two indexes of one chain (a live one that survived crashes and reorganizations, a fresh replay, an
index kept by another party on another database) must hold the same records, but not the same
bytes: what a row is *called* locally and *when* it was written differ. So the dump reflects
whatever tables the database has (it needs no list of projections, which keeps it valid while the
schema grows) and leaves out:

- :data:`PROCESS_TABLES`, always: Alembic's ``alembic_version`` (the schema, not the chain) and
  ``indexer_progress`` (how fast this index was built);
- surrogate keys: a sole integer primary key that the database numbers itself. A transaction
  rolled back by a crash still consumes PostgreSQL sequence values, so a live index and a replay
  number the same rows differently. A foreign key to such a key is replaced by the referenced
  row's own dump, so that the link itself is still compared;
- wall-clock timestamps: ``DateTime`` columns named ``*_at`` (``updated_at``, ``created_at``).

Values are normalized so that rows sort and compare across databases: a column the index's own
schema (:mod:`registry.db.schema`) declares is read through its declared type (so an on-chain
amount is an ``int`` whether SQLite keeps it as text or PostgreSQL as ``NUMERIC``); JSON documents
become canonical text, integral ``Decimal`` an ``int``, bytes hex. Columns are ordered by name and
each table's rows sorted; duplicates are kept: a row written twice is a difference.

:func:`index_tables` is what the audit compares and digests: the tables whose rows come from the
chain (every table with a ``block_number`` or a ``valid_from_block``, but the indexer's cursor),
optionally *as of* a block: the history a replay that stopped at that block would hold
(:func:`canonical_tables` with ``as_of``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from registry.db.schema import metadata as index_metadata

__all__ = [
    "IGNORED_TABLES",
    "PROCESS_TABLES",
    "CanonicalTable",
    "Dump",
    "Row",
    "canonical_tables",
    "diff_dumps",
    "dump_database",
    "index_tables",
    "row_text",
]

Row = tuple[Any, ...]
Dump = dict[str, list[Row]]

PROCESS_TABLES = frozenset({"alembic_version", "indexer_progress"})
"""Tables that describe this database or this indexer's run, never the chain: never dumped."""

IGNORED_TABLES = PROCESS_TABLES
"""What :func:`dump_database` leaves out unless told otherwise."""

_NOT_FROM_CHAIN = frozenset({"indexer_cursor"})
"""Tables with a ``block_number`` that are the indexer's bookkeeping, not records of the chain."""


@dataclass(frozen=True)
class CanonicalTable:
    """One table's canonical rows: values in the order of ``columns`` (sorted names), rows
    sorted."""

    name: str
    columns: tuple[str, ...]
    rows: list[Row]


def _is_surrogate(table: sa.Table, column: sa.Column[Any], dialect: str) -> bool:
    primary_key = list(table.primary_key.columns)
    if primary_key != [column] or not isinstance(column.type, sa.Integer):
        return False
    if column.autoincrement is True:  # PostgreSQL reports SERIAL and identity columns so
        return True
    # SQLite reports nothing; there an INTEGER (not BIGINT) primary key aliases the rowid, which
    # is how SQLAlchemy declares an autoincrementing key on SQLite.
    return dialect == "sqlite" and type(column.type) is sa.INTEGER


def _is_wall_clock(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.DateTime) and column.name.endswith("_at")


def _normalize(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return value


def row_text(row: Row) -> str:
    """A row as canonical JSON text: how rows are sorted, counted and hashed."""
    # Rows mix types and NULLs, which tuples cannot order; their JSON text can be.
    return json.dumps(row, default=str, separators=(",", ":"))


@dataclass
class _TablePlan:
    table: sa.Table
    surrogate: sa.Column[Any] | None
    kept: list[sa.Column[Any]]
    # kept column name -> referenced table (whose surrogate key it holds)
    references: dict[str, str]


def _plan(table: sa.Table, dialect: str) -> _TablePlan:
    surrogate = next((c for c in table.columns if _is_surrogate(table, c, dialect)), None)
    kept = sorted(
        (c for c in table.columns if c is not surrogate and not _is_wall_clock(c)),
        key=lambda c: c.name,
    )
    references: dict[str, str] = {}
    for column in kept:
        for foreign_key in column.foreign_keys:
            target = foreign_key.column
            if _is_surrogate(target.table, target, dialect):
                references[column.name] = target.table.name
    return _TablePlan(table, surrogate, kept, references)


def _typed(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """The column read through the type our schema declares for it, if it declares it."""
    declared = index_metadata.tables.get(column.table.name)
    if declared is None or column.name not in declared.c:
        return column
    return sa.type_coerce(column, declared.c[column.name].type).label(column.name)


def _as_of(table: sa.Table, block: int) -> tuple[list[sa.ColumnElement[bool]], set[str]]:
    """The rows of ``table`` that existed at ``block``, and the columns to clip at it."""
    if "valid_from_block" in table.c and "valid_to_block" in table.c:
        return [table.c.valid_from_block <= block], {"valid_to_block"}
    if "block_number" in table.c:
        return [table.c.block_number <= block], set()
    return [], set()


def _from_chain(table: sa.Table) -> bool:
    return table.name not in _NOT_FROM_CHAIN and (
        "block_number" in table.c or "valid_from_block" in table.c
    )


def canonical_tables(
    engine: sa.Engine,
    *,
    ignore: Iterable[str] = (),
    only_from_chain: bool = False,
    as_of: int | None = None,
) -> dict[str, CanonicalTable]:
    """The canonical rows of every table behind ``engine`` (but :data:`PROCESS_TABLES` and
    ``ignore``); ``only_from_chain``: of the tables whose rows come from the chain;
    ``as_of``: as a replay that stopped at that block would hold them (later rows left out,
    versions closed later open again)."""
    reflected = sa.MetaData()
    reflected.reflect(engine)
    ignored = PROCESS_TABLES | frozenset(ignore)
    dialect = engine.dialect.name
    plans = [
        _plan(t, dialect)
        for t in reflected.sorted_tables
        if t.name not in ignored and (_from_chain(t) or not only_from_chain)
    ]
    # Referenced tables come first in sorted_tables, so their surrogates are resolved in time.
    resolved: dict[str, dict[object, Row]] = {}
    contents: dict[str, CanonicalTable] = {}
    with engine.connect() as connection:
        for plan in plans:
            where, clipped = _as_of(plan.table, as_of) if as_of is not None else ([], set())
            selected = [_typed(c) for c in plan.kept]
            if plan.surrogate is not None:
                selected.append(plan.surrogate)
            rows: list[Row] = []
            by_surrogate: dict[object, Row] = {}
            for raw in connection.execute(sa.select(*selected).where(*where)):
                values = raw._mapping
                row = tuple(
                    _value(
                        plan, values, c.name, resolved, clip=as_of if c.name in clipped else None
                    )
                    for c in plan.kept
                )
                rows.append(row)
                if plan.surrogate is not None:
                    by_surrogate[values[plan.surrogate.name]] = row
            resolved[plan.table.name] = by_surrogate
            contents[plan.table.name] = CanonicalTable(
                plan.table.name,
                tuple(c.name for c in plan.kept),
                sorted(rows, key=row_text),
            )
    return contents


def index_tables(engine: sa.Engine, as_of: int | None = None) -> dict[str, CanonicalTable]:
    """The canonical rows of the tables whose rows come from the chain (events and
    projections), as of block ``as_of`` (None: all)."""
    return canonical_tables(engine, only_from_chain=True, as_of=as_of)


def dump_database(engine: sa.Engine, *, ignore: Iterable[str] = IGNORED_TABLES) -> Dump:
    """Every row of every table behind ``engine`` (but :data:`PROCESS_TABLES` and ``ignore``),
    normalized and sorted."""
    return {name: table.rows for name, table in canonical_tables(engine, ignore=ignore).items()}


def _value(
    plan: _TablePlan,
    values: sa.RowMapping,
    name: str,
    resolved: Mapping[str, Mapping[object, Row]],
    *,
    clip: int | None = None,
) -> object:
    value = values[name]
    if clip is not None and value is not None and value > clip:
        return None  # closed after the block: still open as of it
    target = plan.references.get(name)
    if target is None or value is None:
        return _normalize(value)
    # A dangling reference (or a cycle, which sorted_tables cannot order) stays visible as such.
    referenced = resolved.get(target, {}).get(value)
    return ("->", target, referenced if referenced is not None else f"missing {value!r}")


def diff_dumps(left: Dump, right: Dump, *, names: tuple[str, str], limit: int = 10) -> list[str]:
    """The differences between two dumps, at most ``limit`` rows per table and side, readable in
    an assertion message; empty when they are equal."""
    lines: list[str] = []
    for table in sorted(set(left) | set(right)):
        if table not in left or table not in right:
            missing = names[0] if table not in left else names[1]
            lines.append(f"table {table}: missing in {missing}")
            continue
        only_left = multiset_minus(left[table], right[table])
        only_right = multiset_minus(right[table], left[table])
        if not only_left and not only_right:
            continue
        lines.append(
            f"table {table}: {len(left[table])} rows in {names[0]}, {len(right[table])} in "
            f"{names[1]}; {len(only_left)} only in {names[0]}, {len(only_right)} only in "
            f"{names[1]}"
        )
        for name, only in ((names[0], only_left), (names[1], only_right)):
            lines += [f"  only in {name}: {row}" for row in only[:limit]]
            if len(only) > limit:
                lines.append(f"  ... and {len(only) - limit} more only in {name}")
    return lines


def multiset_minus(rows: list[Row], other: list[Row]) -> list[Row]:
    """The rows of ``rows`` not matched one for one in ``other``."""
    remaining: dict[str, int] = {}
    for row in other:
        key = row_text(row)
        remaining[key] = remaining.get(key, 0) + 1
    left: list[Row] = []
    for row in rows:
        key = row_text(row)
        if remaining.get(key, 0) > 0:
            remaining[key] -= 1
        else:
            left.append(row)
    return left
