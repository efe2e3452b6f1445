"""A database-agnostic dump of an index, for comparing two indexes of the same chain.

Two indexes of one chain (a live one that survived crashes, a fresh replay) must hold the same
records, but not the same bytes: what a row is *called* locally and *when* it was written differ.
So the dump reflects whatever tables the database has (it knows no projection columns, which keeps
it valid while the schema evolves) and leaves out:

- Alembic's ``alembic_version`` table: it describes the schema, not the chain.
- Surrogate keys: a sole integer primary key that the database numbers itself. A transaction
  rolled back by a crash still consumes PostgreSQL sequence values, so a live index and a replay
  number the same rows differently. A foreign key to such a key is replaced by the referenced
  row's own dump, so that the link itself is still compared.
- Wall-clock timestamps: ``DateTime`` columns named ``*_at`` (``updated_at``, ``created_at``).

Values are normalized so that rows sort and compare: JSON documents to canonical text, integral
``Decimal`` (PostgreSQL ``NUMERIC``) to ``int``, bytes to hex. Each table's rows are sorted, and
duplicates are kept: a row written twice is a difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

__all__ = ["IGNORED_TABLES", "Dump", "Row", "diff_dumps", "dump_database"]

Row = tuple[Any, ...]
Dump = dict[str, list[Row]]

IGNORED_TABLES = frozenset({"alembic_version"})


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


def _sort_key(row: Row) -> str:
    # Rows mix types and NULLs, which tuples cannot order; their JSON text can be.
    return json.dumps(row, default=str)


@dataclass
class _TablePlan:
    table: sa.Table
    surrogate: sa.Column[Any] | None
    kept: list[sa.Column[Any]]
    # kept column name -> (referenced table, referenced surrogate column name)
    references: dict[str, str]


def _plan(table: sa.Table, dialect: str) -> _TablePlan:
    surrogate = next((c for c in table.columns if _is_surrogate(table, c, dialect)), None)
    kept = [c for c in table.columns if c is not surrogate and not _is_wall_clock(c)]
    references: dict[str, str] = {}
    for column in kept:
        for foreign_key in column.foreign_keys:
            target = foreign_key.column
            if _is_surrogate(target.table, target, dialect):
                references[column.name] = target.table.name
    return _TablePlan(table, surrogate, kept, references)


def dump_database(engine: sa.Engine, *, ignore: Iterable[str] = IGNORED_TABLES) -> Dump:
    """Every row of every table behind ``engine`` (but ``ignore``), normalized and sorted."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    ignored = frozenset(ignore)
    dialect = engine.dialect.name
    plans = [_plan(t, dialect) for t in metadata.sorted_tables if t.name not in ignored]
    # Referenced tables come first in sorted_tables, so their surrogates are resolved in time.
    resolved: dict[str, dict[object, Row]] = {}
    contents: Dump = {}
    with engine.connect() as connection:
        for plan in plans:
            selected = [*plan.kept, *([plan.surrogate] if plan.surrogate is not None else [])]
            rows: list[Row] = []
            by_surrogate: dict[object, Row] = {}
            for raw in connection.execute(sa.select(*selected)):
                values = raw._mapping
                row = tuple(_value(plan, values, c.name, resolved) for c in plan.kept)
                rows.append(row)
                if plan.surrogate is not None:
                    by_surrogate[values[plan.surrogate.name]] = row
            resolved[plan.table.name] = by_surrogate
            contents[plan.table.name] = sorted(rows, key=_sort_key)
    return contents


def _value(
    plan: _TablePlan,
    values: sa.RowMapping,
    name: str,
    resolved: Mapping[str, Mapping[object, Row]],
) -> object:
    value = values[name]
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
        only_left = _multiset_minus(left[table], right[table])
        only_right = _multiset_minus(right[table], left[table])
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


def _multiset_minus(rows: list[Row], other: list[Row]) -> list[Row]:
    remaining: dict[str, int] = {}
    for row in other:
        key = _sort_key(row)
        remaining[key] = remaining.get(key, 0) + 1
    left: list[Row] = []
    for row in rows:
        key = _sort_key(row)
        if remaining.get(key, 0) > 0:
            remaining[key] -= 1
        else:
            left.append(row)
    return left
