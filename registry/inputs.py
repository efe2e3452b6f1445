"""Checks of the values callers pass in (through the API or the CLI), shared by the services: each
returns the value the chain takes, or raises :class:`~registry.errors.InvalidInput` naming the
field and the rule."""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import Connection

from registry.contracts.ledger import MAX_AMOUNT
from registry.errors import InvalidInput
from registry.indexer.cursor import CURSOR_NAME, read_cursor
from registry.overdue import maturity_seconds

__all__ = ["AMOUNT_RULE", "amount", "as_of_block", "hash_id", "maturity", "page_size"]

AMOUNT_RULE = "positive-integer-minor-units"

_HASH_ID = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)


def amount(value: object, field: str) -> int:
    """A positive amount in minor units that the contracts store (uint96)."""
    # bool is an int in Python but never an amount; a float cannot hold a large amount exactly.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise InvalidInput(
            field,
            AMOUNT_RULE,
            f"{field} must be a positive integer amount in minor units, at most 2**96 - 1",
        )
    return value


def hash_id(value: object, field: str, rule: str) -> bytes:
    """An id the API shows as ``0x`` and 64 hex digits (a fingerprint, a pledge id)."""
    if not isinstance(value, str) or not _HASH_ID.fullmatch(value):
        raise InvalidInput(field, rule, f"{field} must be 0x followed by 64 hex digits")
    return bytes.fromhex(value[2:])


def maturity(value: object, today: date, field: str = "maturity_date") -> int:
    """Unix seconds of 00:00 UTC on a due date not yet past: the chain stores maturity as
    seconds."""
    # datetime is a date subclass; a timestamp with a time of day is not what the field means.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(field, "iso-8601-date", f"{field} must be a date (YYYY-MM-DD)")
    if value < today:
        raise InvalidInput(
            field, "maturity-in-past", f"{field} {value.isoformat()} is already past"
        )
    return maturity_seconds(value)


MAX_PAGE = 200
"""The most items one page of a list holds."""


def page_size(value: object) -> int:
    """How many items a page of a list holds: 1 to :data:`MAX_PAGE`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE:
        raise InvalidInput("limit", "page-size", f"limit must be 1 to {MAX_PAGE}")
    return value


def as_of_block(connection: Connection, value: object) -> int:
    """The block a read of the index is taken at: ``value``, which the index must have reached,
    or (None) the newest block it has."""
    cursor = read_cursor(connection, CURSOR_NAME)
    indexed = -1 if cursor is None else cursor.block_number
    if value is None:
        return indexed
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(
            "as_of_block", "block-number", "as_of_block must be a block number (0 or more)"
        )
    if value > indexed:
        raise InvalidInput(
            "as_of_block",
            "block-not-indexed",
            f"the index has reached block {indexed}, not {value} yet",
        )
    return value
