"""Bulk writes for the indexer, below SQLAlchemy's per-row machinery.

SQLAlchemy's ``executemany`` builds and type-processes a parameter dictionary per row, which cost
more than the database itself at the indexer's rates (tens of thousands of rows a second). Here
rows are plain tuples, converted once per column type, and sent the fastest way each database
offers: ``COPY ... FROM STDIN`` on PostgreSQL (psycopg 3), one prepared ``INSERT`` run by the
driver's ``executemany`` on SQLite. Both run in the caller's transaction.

Integrity errors of the driver are re-raised as SQLAlchemy's
:class:`~sqlalchemy.exc.IntegrityError`, as if the statement had gone through SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.exc import IntegrityError

from registry.db.types import Uint256

__all__ = ["JSONText", "insert_rows", "update_rows"]


class JSONText(str):
    """A value for a JSON column that is already serialized (written as it is)."""

    __slots__ = ()


def _json(value: Any) -> str:
    return value if isinstance(value, JSONText) else json.dumps(value)


Row = Sequence[Any]


_SQLITE_INTEGER = 1 << 63


def _decimal(value: int | None) -> str | None:
    return None if value is None else str(value)


def _converter(
    connection: Connection, table: Table, column: str, rows: Sequence[Row], index: int
) -> Callable[[Any], Any] | None:
    """How a Python value of the column becomes what the driver takes; None: as it is."""
    column_type = table.c[column].type
    # The checks below look at the whole column with C-level builtins (map, set, max), which cost
    # a fraction of converting every value in Python.
    if isinstance(column_type, JSON):
        serialized = set(map(type, map(itemgetter(index), rows))) == {JSONText}
        return None if serialized else _json
    if isinstance(column_type, Uint256) and connection.dialect.name != "postgresql":
        # Uint256 is text on SQLite (see registry.db.types). An int that fits SQLite's 64-bit
        # INTEGER is bound as it is: the column's TEXT affinity stores its decimal text, exactly
        # what str() would give. Only wider ones (which sqlite3 cannot bind) need str().
        values = list(map(itemgetter(index), rows))
        if None in values:
            values = [value for value in values if value is not None]
        return _decimal if values and max(values) >= _SQLITE_INTEGER else None
    # psycopg sends Python ints as numeric, whatever their size.
    return None


def _converted(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]
) -> Sequence[Row]:
    converters = [
        (i, convert)
        for i, column in enumerate(columns)
        if (convert := _converter(connection, table, column, rows, i)) is not None
    ]
    if not converters:
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for i, convert in converters:
            values[i] = convert(values[i])
        converted.append(tuple(values))
    return converted


def _integrity_errors(connection: Connection) -> type[Exception]:
    dbapi = connection.dialect.dbapi
    assert dbapi is not None
    error: type[Exception] = dbapi.IntegrityError
    return error


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]
) -> None:
    """Inserts ``rows`` (tuples of ``columns``' values) into ``table``."""
    if not rows:
        return
    rows = _converted(connection, table, columns, rows)
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    if connection.dialect.name == "postgresql":
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        raw = connection.connection.driver_connection
        assert raw is not None
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except _integrity_errors(connection) as error:
            raise IntegrityError(statement, None, error) from error
        return
    placeholders = ", ".join("?" for _ in columns)
    # Identifiers from the schema, quoted; the values are bound parameters.
    statement = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({placeholders})"  # noqa: S608
    connection.exec_driver_sql(statement, rows if isinstance(rows, list) else list(rows))


def update_rows(connection: Connection, statement: str, rows: Sequence[Row]) -> int:
    """Runs ``statement`` (an UPDATE whose parameters are spelled ``{}``) once per row; returns
    the number of rows it changed in all."""
    if not rows:
        return 0
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    result = connection.exec_driver_sql(statement.replace("{}", placeholder), list(rows))
    return result.rowcount
