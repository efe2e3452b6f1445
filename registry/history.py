"""A bank's own business as the index holds it: its receivables and each one's financing history,
as of any block the index has reached, a page at a time.

Pages are keyed, not numbered: a page ends with the key to ask the next one ``after`` (a
receivable's id; a financing's position, ``block:log``), so a list read while the chain moves on
neither skips nor repeats an item of the block it is read at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, and_, or_, select

from registry import inputs
from registry.db.read import as_of, with_caps
from registry.db.schema import financings, receivables
from registry.errors import InvalidInput

__all__ = ["FinancingEntry", "HistoryService", "Page", "ReceivableEntry"]

T = TypeVar("T")

_STATUSES = ("registered", "financed", "settled", "cancelled")
_POSITION = re.compile(r"([0-9]{1,19}):([0-9]{1,9})", re.ASCII)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_after: str | None
    """Where the next page starts (pass it as ``after``); None on the last page."""
    as_of_block: int


@dataclass(frozen=True)
class ReceivableEntry:
    receivable_id: str
    status: str
    currency: str
    face_value: int
    declared_value: int
    cap: int
    outstanding: int
    registered_block: int


@dataclass(frozen=True)
class FinancingEntry:
    kind: str
    """``drawdown`` or ``repayment``."""
    amount: int
    outstanding_after: int
    bank: str
    block_number: int
    log_index: int
    tx_hash: str


class HistoryService:
    """Reads of the index for a bank (see the module's docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def receivables_of(
        self,
        registrant: str,
        *,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
        as_of_block: int | None = None,
    ) -> Page[ReceivableEntry]:
        """The receivables ``registrant`` (the bank's account) registered, by id."""
        size = inputs.page_size(limit)
        if status is not None and status not in _STATUSES:
            raise InvalidInput("status", "receivable-status", f"status must be one of {_STATUSES}")
        start = None if after is None else inputs.hash_id(after, "after", "page-after")
        with self.engine.connect() as connection:
            block = inputs.as_of_block(connection, as_of_block)
            where: list[Any] = [as_of(receivables, block), receivables.c.registrant == registrant]
            if status is not None:
                where.append(receivables.c.status == status)
            if start is not None:
                where.append(receivables.c.id > "0x" + start.hex())
            rows = (
                connection.execute(
                    select(receivables).where(*where).order_by(receivables.c.id).limit(size + 1)
                )
                .mappings()
                .all()
            )
            capped = with_caps(connection, rows[:size], block)
        items = [
            ReceivableEntry(
                receivable_id=str(row["id"]),
                status=str(row["status"]),
                currency=str(row["currency"]),
                face_value=int(row["face_value"]),
                declared_value=int(row["declared_value"]),
                cap=int(row["cap"]),
                outstanding=int(row["outstanding"]),
                registered_block=int(row["registered_block"]),
            )
            for row in capped
        ]
        more = len(rows) > size
        return Page(items, items[-1].receivable_id if more else None, block)

    def financings_of(
        self,
        receivable_id: str,
        *,
        after: str | None = None,
        limit: int = 50,
        as_of_block: int | None = None,
    ) -> Page[FinancingEntry]:
        """The drawdowns and repayments of a receivable, in chain order."""
        rid = "0x" + inputs.hash_id(receivable_id, "receivable_id", "receivable-id-format").hex()
        size = inputs.page_size(limit)
        position = _position(after)
        with self.engine.connect() as connection:
            block = inputs.as_of_block(connection, as_of_block)
            where: list[Any] = [
                financings.c.receivable_id == rid,
                financings.c.block_number <= block,
            ]
            if position is not None:
                where.append(
                    or_(
                        financings.c.block_number > position[0],
                        and_(
                            financings.c.block_number == position[0],
                            financings.c.log_index > position[1],
                        ),
                    )
                )
            rows = (
                connection.execute(
                    select(financings)
                    .where(*where)
                    .order_by(financings.c.block_number, financings.c.log_index)
                    .limit(size + 1)
                )
                .mappings()
                .all()
            )
        items = [
            FinancingEntry(
                kind=str(row["kind"]),
                amount=int(row["amount"]),
                outstanding_after=int(row["outstanding_after"]),
                bank=str(row["bank"]),
                block_number=int(row["block_number"]),
                log_index=int(row["log_index"]),
                tx_hash=str(row["tx_hash"]),
            )
            for row in rows[:size]
        ]
        last = items[-1] if len(rows) > size else None
        return Page(items, None if last is None else f"{last.block_number}:{last.log_index}", block)


def _position(after: str | None) -> tuple[int, int] | None:
    if after is None:
        return None
    found = _POSITION.fullmatch(after) if isinstance(after, str) else None
    if found is None:
        raise InvalidInput("after", "page-after", "after must be a position block:log")
    return int(found.group(1)), int(found.group(2))
