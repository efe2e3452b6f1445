"""Column types that hold chain values exactly on every supported database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["Uint256"]


class Uint256(TypeDecorator[int]):
    """An unsigned 256-bit integer (an on-chain amount), read back as a Python ``int``.

    PostgreSQL stores it as NUMERIC(78, 0), exact and comparable. SQLite has no exact type wider
    than 64 bits (its NUMERIC falls back to floating point), so there it is a decimal string.
    """

    impl = String(78)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0))
        return dialect.type_descriptor(String(78))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)
