"""ConsentRegistry's rules in plain Python: bindings, grants and revocations per enterprise.

Enterprises and grantees are their 32-byte ids; accounts their addresses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelRecord:
    granted: bool
    epoch: int
    expiry: int
    nonce: int


@dataclass
class ConsentModel:
    """The consent rules in a few lines of Python: what the contract must agree with."""

    accounts: dict[bytes, str]  # enterprise -> account (the last one, kept after unbinding)
    epochs: dict[bytes, int]
    bound: set[bytes]
    enterprise_of: dict[str, bytes]
    used: set[tuple[bytes, int]]
    records: dict[tuple[bytes, bytes], ModelRecord]

    @classmethod
    def empty(cls) -> ConsentModel:
        return cls({}, {}, set(), {}, set(), {})

    def bind(self, enterprise: bytes, account: str) -> str | None:
        if enterprise in self.bound:
            return "enterprise-already-bound"
        if account in self.enterprise_of:
            return "account-already-bound"
        self.accounts[enterprise] = account
        self.epochs[enterprise] = self.epochs.get(enterprise, 0) + 1
        self.bound.add(enterprise)
        self.enterprise_of[account] = enterprise
        return None

    def unbind(self, enterprise: bytes) -> str | None:
        if enterprise not in self.bound:
            return "enterprise-not-bound"
        self.bound.remove(enterprise)
        del self.enterprise_of[self.accounts[enterprise]]
        return None

    def apply(
        self, enterprise: bytes, signer: str, grantee: bytes, nonce: int, expiry: int | None
    ) -> str | None:
        """A grant (``expiry`` set) or a revocation (None) signed by ``signer``."""
        if enterprise not in self.bound:
            return "enterprise-not-bound"
        if signer != self.accounts[enterprise]:
            return "invalid-enterprise-signature"
        if (enterprise, nonce) in self.used:
            return "consent-nonce-used"
        epoch = self.epochs[enterprise]
        last = self.records.get((enterprise, grantee))
        # Superseded under any epoch: a rebinding never revives a message signed before.
        if last is not None and nonce <= last.nonce:
            return "consent-superseded"
        self.used.add((enterprise, nonce))
        kept_expiry = last.expiry if last is not None else 0
        self.records[(enterprise, grantee)] = ModelRecord(
            expiry is not None, epoch, kept_expiry if expiry is None else expiry, nonce
        )
        return None

    def active(self, enterprise: bytes, grantee: bytes, now: int) -> bool:
        record = self.records.get((enterprise, grantee))
        return (
            record is not None
            and enterprise in self.bound
            and record.granted
            and record.epoch == self.epochs[enterprise]
            and record.expiry > now
        )
