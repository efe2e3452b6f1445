"""Contract values as Python values, spelled the same by the bindings, the indexer and the audit
(which compares what the first two give)."""

from __future__ import annotations

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

__all__ = ["address_or_none", "currency_text"]


def currency_text(raw: bytes) -> str:
    """A ``bytes3`` currency code as text. The contracts do not validate it, so odd bytes become
    U+FFFD instead of an exception: one bank's malformed call must not break a view or the index
    for everybody. NUL and other control characters too, which PostgreSQL text columns refuse."""
    text = bytes(raw).rstrip(b"\0").decode("ascii", errors="replace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def address_or_none(value: str) -> ChecksumAddress | None:
    """An address a view returns, None where it is zero (no such account)."""
    return None if int(value, 16) == 0 else to_checksum_address(value)
