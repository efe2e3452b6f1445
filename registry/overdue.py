"""When a receivable is overdue: one rule for the contract, the index, the API and reports.

A receivable is due on the day of its maturity (UTC) and overdue from the first second of the next
day, while financing is outstanding, judged by a block's timestamp (never a server's clock), the
way the ledger's ``isOverdue`` judges it: ``block.timestamp / 1 days > maturity / 1 days``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

__all__ = ["SECONDS_PER_DAY", "is_overdue", "maturity_seconds"]

SECONDS_PER_DAY = 86_400


def maturity_seconds(due: date) -> int:
    """The maturity the ledger stores for a due date: unix seconds of 00:00 UTC that day."""
    return int(datetime.combine(due, time(), UTC).timestamp())


def is_overdue(maturity: int, outstanding: int, timestamp: int) -> bool:
    """Whether a receivable maturing at ``maturity`` (unix seconds) with ``outstanding`` financing
    is overdue at a block of ``timestamp``."""
    return outstanding > 0 and timestamp // SECONDS_PER_DAY > maturity // SECONDS_PER_DAY
