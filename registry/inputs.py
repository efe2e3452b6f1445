"""Checks of the values callers pass in (through the API or the CLI), shared by the services: each
returns the value the chain takes, or raises :class:`~registry.errors.InvalidInput` naming the
field and the rule."""

from __future__ import annotations

import re
from datetime import date, datetime

from registry.contracts.ledger import MAX_AMOUNT
from registry.errors import InvalidInput
from registry.overdue import maturity_seconds

__all__ = ["AMOUNT_RULE", "amount", "hash_id", "maturity"]

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
