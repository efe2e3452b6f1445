"""Typed binding of the ReceivableLedger contract: one method per contract function."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak

from registry.chain.artifacts import load_artifact
from registry.chain.client import Chain, Signer, TxResult

__all__ = [
    "DEFAULT_ADMIN_ROLE",
    "LENDER_ROLE",
    "DeclarationTerm",
    "ReceivableLedger",
    "ReceivableState",
    "ReceivableStatus",
    "ReceivableTerms",
]

LENDER_ROLE = keccak(text="LENDER_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)
ZERO_ADDRESS = "0x" + "00" * 20


class ReceivableStatus(enum.IntEnum):
    """Mirrors ``IReceivableLedger.Status``."""

    NONE = 0
    REGISTERED = 1
    FINANCED = 2
    SETTLED = 3
    CANCELLED = 4


@dataclass(frozen=True)
class DeclarationTerm:
    fingerprint: bytes
    value: int


@dataclass(frozen=True)
class ReceivableTerms:
    id: bytes
    exporter: bytes
    key_version: int
    face_value: int
    currency: str
    maturity: int


@dataclass(frozen=True)
class ReceivableState:
    status: ReceivableStatus
    key_version: int
    currency: str
    maturity: int
    registrant: ChecksumAddress | None
    financier: ChecksumAddress | None
    exporter: bytes
    face_value: int
    declared_value: int
    cap: int
    outstanding: int

    @property
    def headroom(self) -> int:
        if self.status in (ReceivableStatus.NONE, ReceivableStatus.CANCELLED):
            return 0
        return self.cap - self.outstanding


def _address_or_none(value: str) -> ChecksumAddress | None:
    return None if int(value, 16) == 0 else ChecksumAddress(value)  # type: ignore[arg-type]


class ReceivableLedger:
    NAME = "ReceivableLedger"

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract: Any = chain.w3.eth.contract(
            address=chain.w3.to_checksum_address(address), abi=load_artifact(self.NAME).abi
        )

    @property
    def address(self) -> ChecksumAddress:
        address: ChecksumAddress = self.contract.address
        return address

    def register(
        self, signer: Signer, terms: ReceivableTerms, declarations: list[DeclarationTerm]
    ) -> TxResult:
        struct = (
            terms.id,
            terms.exporter,
            terms.key_version,
            terms.face_value,
            terms.currency.encode("ascii"),
            terms.maturity,
        )
        decls = [(d.fingerprint, d.value) for d in declarations]
        return self.chain.transact(
            signer, self.contract.functions.registerReceivable(struct, decls)
        )

    def finance(self, signer: Signer, receivable_id: bytes, amount: int) -> TxResult:
        return self.chain.transact(signer, self.contract.functions.finance(receivable_id, amount))

    def repay(self, signer: Signer, receivable_id: bytes, amount: int) -> TxResult:
        return self.chain.transact(signer, self.contract.functions.repay(receivable_id, amount))

    def cancel(self, signer: Signer, receivable_id: bytes) -> TxResult:
        return self.chain.transact(signer, self.contract.functions.cancel(receivable_id))

    def set_advance_rate(self, signer: Signer, rate_bps: int) -> TxResult:
        return self.chain.transact(signer, self.contract.functions.setAdvanceRate(rate_bps))

    def grant_role(self, signer: Signer, role: bytes, account: str) -> TxResult:
        return self.chain.transact(signer, self.contract.functions.grantRole(role, account))

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self.chain.call(self.contract.functions.hasRole(role, account)))

    def receivable(self, receivable_id: bytes, block: int | str = "latest") -> ReceivableState:
        raw = self.chain.call(self.contract.functions.getReceivable(receivable_id), block)
        status, key_version, currency, maturity, registrant, financier, *amounts = raw
        exporter, face_value, declared_value, cap, outstanding = amounts
        return ReceivableState(
            status=ReceivableStatus(status),
            key_version=key_version,
            currency=bytes(currency).rstrip(b"\0").decode("ascii"),
            maturity=maturity,
            registrant=_address_or_none(registrant),
            financier=_address_or_none(financier),
            exporter=bytes(exporter),
            face_value=face_value,
            declared_value=declared_value,
            cap=cap,
            outstanding=outstanding,
        )

    def receivable_of_declaration(
        self, declaration: bytes, block: int | str = "latest"
    ) -> bytes | None:
        linked = bytes(
            self.chain.call(self.contract.functions.receivableOfDeclaration(declaration), block)
        )
        return None if linked == bytes(32) else linked

    def advance_rate_bps(self) -> int:
        return int(self.chain.call(self.contract.functions.advanceRateBps()))
