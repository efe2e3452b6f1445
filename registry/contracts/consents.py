"""Typed binding of the ConsentRegistry contract, and the EIP-712 messages enterprises sign.

An enterprise grants a bank (an institution id) access to its credit report by signing a
:class:`Consent`, and withdraws it by signing a :class:`Revocation`; anyone relays the signature
with :meth:`ConsentRegistry.grant` or :meth:`ConsentRegistry.revoke`. The typed data, domain
``{name: "CreditRegistryConsent", version: "1", chainId, verifyingContract}``::

    Consent(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint64 expiry,uint256 nonce)
    Revocation(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint256 nonce)

Two routes to a digest, which must agree (the tests check them against each other and against the
contract's ``hashConsent``): :func:`consent_digest` encodes the struct by hand, the way the contract
does; :func:`sign_consent` hands :func:`consent_typed_data` (the JSON a wallet's
``eth_signTypedData_v4`` takes) to eth-account.

Nonces: each is used once per enterprise, in any order across grantees; for one (enterprise,
grantee, scope) a message applies only if its nonce is above the last one applied there, so number
messages increasingly (:func:`next_nonce` uses the clock in milliseconds).

Refusals come back decoded by :meth:`Chain.transact` as :class:`~registry.errors.RuleViolation`
(``rule`` = the contract error in kebab case, e.g. ``consent-nonce-used``) or
:class:`~registry.errors.MissingRole`, and nothing is sent.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from registry.chain.client import Signer, TxResult
from registry.contracts.binding import Call, ConsortiumContract
from registry.contracts.values import address_or_none
from registry.errors import InvalidInput
from registry.fingerprint import Fingerprint

__all__ = [
    "CONSENT_DOMAIN_NAME",
    "CONSENT_DOMAIN_VERSION",
    "CONSENT_TYPE",
    "CONSENT_TYPEHASH",
    "REVOCATION_TYPE",
    "REVOCATION_TYPEHASH",
    "SCOPE_CREDIT_REPORT",
    "Anchored",
    "Binding",
    "Consent",
    "ConsentDomain",
    "ConsentRecord",
    "ConsentRegistry",
    "ConsentStatus",
    "ReadLogBatch",
    "ReadLogEntry",
    "Revocation",
    "consent_digest",
    "consent_in_force",
    "consent_signer",
    "consent_typed_data",
    "domain",
    "institution_id",
    "next_nonce",
    "revocation_digest",
    "revocation_signer",
    "revocation_typed_data",
    "sign_consent",
    "sign_revocation",
]


CONSENT_DOMAIN_NAME = "CreditRegistryConsent"
CONSENT_DOMAIN_VERSION = "1"
CONSENT_TYPE = (
    "Consent(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint64 expiry,"
    "uint256 nonce)"
)
REVOCATION_TYPE = (
    "Revocation(bytes32 enterprise,bytes32 granteeInstitution,bytes32 scope,uint256 nonce)"
)
CONSENT_TYPEHASH = keccak(text=CONSENT_TYPE)
REVOCATION_TYPEHASH = keccak(text=REVOCATION_TYPE)
# The contract treats scopes as opaque; this is the one SPEC needs (reading the credit report).
SCOPE_CREDIT_REPORT = keccak(text="CREDIT_REPORT")

_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_REVOCATION_FIELDS = [
    {"name": "enterprise", "type": "bytes32"},
    {"name": "granteeInstitution", "type": "bytes32"},
    {"name": "scope", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
]
_CONSENT_FIELDS = [
    {"name": "enterprise", "type": "bytes32"},
    {"name": "granteeInstitution", "type": "bytes32"},
    {"name": "scope", "type": "bytes32"},
    {"name": "expiry", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]
_UINT64_MAX = 2**64 - 1
_UINT256_MAX = 2**256 - 1


def _bytes32(value: object, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise InvalidInput(field, "bytes32", f"{field} must be 32 bytes")
    return value


def _uint(value: object, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidInput(field, "uint-range", f"{field} must be an integer from 0 to {maximum}")
    return value


def institution_id(account: str) -> bytes:
    """The institution an account acts for when the admin assigned it none: the account itself,
    left-padded to 32 bytes (``ConsortiumAccess.institutionOf``)."""
    return bytes(12) + bytes(HexBytes(to_checksum_address(account)))


def next_nonce() -> int:
    """A fresh nonce that orders after earlier ones: the time in milliseconds.

    Fine for one signer signing at most once a millisecond; a wallet that signs faster keeps a
    counter instead.
    """
    return time.time_ns() // 1_000_000


# --- typed data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentDomain:
    """The EIP-712 domain of one deployed ConsentRegistry."""

    chain_id: int
    verifying_contract: ChecksumAddress
    name: str = CONSENT_DOMAIN_NAME
    version: str = CONSENT_DOMAIN_VERSION

    def separator(self) -> bytes:
        """``EIP712._domainSeparatorV4()``."""
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    keccak(text=_DOMAIN_TYPE),
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    self.verifying_contract,
                ],
            )
        )

    def to_typed_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


def domain(chain_id: int, contract_address: str) -> ConsentDomain:
    """The signing domain of the registry at ``contract_address`` on chain ``chain_id``."""
    return ConsentDomain(
        _uint(chain_id, "chain_id", _UINT256_MAX), to_checksum_address(contract_address)
    )


@dataclass(frozen=True)
class Consent:
    """What an enterprise signs to let ``grantee_institution`` read its report for ``scope``."""

    enterprise: bytes
    grantee_institution: bytes
    scope: bytes
    expiry: int
    nonce: int

    def __post_init__(self) -> None:
        _bytes32(self.enterprise, "enterprise")
        _bytes32(self.grantee_institution, "grantee_institution")
        _bytes32(self.scope, "scope")
        _uint(self.expiry, "expiry", _UINT64_MAX)
        _uint(self.nonce, "nonce", _UINT256_MAX)

    def as_tuple(self) -> tuple[bytes, bytes, bytes, int, int]:
        """The ``IConsentRegistry.Consent`` struct as web3 takes it."""
        return (self.enterprise, self.grantee_institution, self.scope, self.expiry, self.nonce)

    def struct_hash(self) -> bytes:
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "bytes32", "uint64", "uint256"],
                [CONSENT_TYPEHASH, *self.as_tuple()],
            )
        )

    def message(self) -> dict[str, Any]:
        return {
            "enterprise": self.enterprise,
            "granteeInstitution": self.grantee_institution,
            "scope": self.scope,
            "expiry": self.expiry,
            "nonce": self.nonce,
        }


@dataclass(frozen=True)
class Revocation:
    """What an enterprise signs to withdraw (or cancel before it is relayed) a consent."""

    enterprise: bytes
    grantee_institution: bytes
    scope: bytes
    nonce: int

    def __post_init__(self) -> None:
        _bytes32(self.enterprise, "enterprise")
        _bytes32(self.grantee_institution, "grantee_institution")
        _bytes32(self.scope, "scope")
        _uint(self.nonce, "nonce", _UINT256_MAX)

    def as_tuple(self) -> tuple[bytes, bytes, bytes, int]:
        """The ``IConsentRegistry.Revocation`` struct as web3 takes it."""
        return (self.enterprise, self.grantee_institution, self.scope, self.nonce)

    def struct_hash(self) -> bytes:
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "bytes32", "uint256"],
                [REVOCATION_TYPEHASH, *self.as_tuple()],
            )
        )

    def message(self) -> dict[str, Any]:
        return {
            "enterprise": self.enterprise,
            "granteeInstitution": self.grantee_institution,
            "scope": self.scope,
            "nonce": self.nonce,
        }


def _typed_data(
    signing_domain: ConsentDomain, primary: str, fields: list[dict[str, str]], message: Any
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, primary: fields},
        "primaryType": primary,
        "domain": signing_domain.to_typed_data(),
        "message": message,
    }


def consent_typed_data(signing_domain: ConsentDomain, consent: Consent) -> dict[str, Any]:
    """The full EIP-712 message, as a wallet's ``eth_signTypedData_v4`` takes it."""
    return _typed_data(signing_domain, "Consent", _CONSENT_FIELDS, consent.message())


def revocation_typed_data(signing_domain: ConsentDomain, revocation: Revocation) -> dict[str, Any]:
    """The full EIP-712 message, as a wallet's ``eth_signTypedData_v4`` takes it."""
    return _typed_data(signing_domain, "Revocation", _REVOCATION_FIELDS, revocation.message())


def consent_digest(signing_domain: ConsentDomain, consent: Consent) -> bytes:
    """The digest the enterprise signs (the contract's ``hashConsent``), encoded by hand."""
    return keccak(b"\x19\x01" + signing_domain.separator() + consent.struct_hash())


def revocation_digest(signing_domain: ConsentDomain, revocation: Revocation) -> bytes:
    """The digest the enterprise signs (the contract's ``hashRevocation``), encoded by hand."""
    return keccak(b"\x19\x01" + signing_domain.separator() + revocation.struct_hash())


def sign_consent(
    private_key: bytes | str, signing_domain: ConsentDomain, consent: Consent
) -> bytes:
    """The enterprise's 65-byte signature (r, s, v) of ``consent``, made by eth-account."""
    typed = consent_typed_data(signing_domain, consent)
    return bytes(Account.sign_typed_data(private_key, full_message=typed).signature)


def sign_revocation(
    private_key: bytes | str, signing_domain: ConsentDomain, revocation: Revocation
) -> bytes:
    """The enterprise's 65-byte signature (r, s, v) of ``revocation``, made by eth-account."""
    typed = revocation_typed_data(signing_domain, revocation)
    return bytes(Account.sign_typed_data(private_key, full_message=typed).signature)


def consent_signer(
    signing_domain: ConsentDomain, consent: Consent, signature: bytes
) -> ChecksumAddress:
    """Who signed ``consent`` (to check a signature before relaying it)."""
    signable = encode_typed_data(full_message=consent_typed_data(signing_domain, consent))
    signer: ChecksumAddress = Account.recover_message(signable, signature=signature)
    return signer


def revocation_signer(
    signing_domain: ConsentDomain, revocation: Revocation, signature: bytes
) -> ChecksumAddress:
    """Who signed ``revocation``."""
    signable = encode_typed_data(full_message=revocation_typed_data(signing_domain, revocation))
    signer: ChecksumAddress = Account.recover_message(signable, signature=signature)
    return signer


# --- read log -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadLogEntry:
    """One credit-report read as the API logs it (``IConsentRegistry.ReadLogEntry``).

    ``scope`` is the consent relied on, zero for an auditor's read; ``response_digest`` is the
    SHA-256 of the report served.
    """

    entry_id: int
    enterprise: bytes
    reader_institution: bytes
    reader: ChecksumAddress
    scope: bytes
    read_at: int
    response_digest: bytes

    def __post_init__(self) -> None:
        _uint(self.entry_id, "entry_id", _UINT64_MAX)
        _bytes32(self.enterprise, "enterprise")
        _bytes32(self.reader_institution, "reader_institution")
        object.__setattr__(self, "reader", to_checksum_address(self.reader))
        _bytes32(self.scope, "scope")
        _uint(self.read_at, "read_at", _UINT64_MAX)
        _bytes32(self.response_digest, "response_digest")

    def as_tuple(self) -> tuple[int, bytes, bytes, str, bytes, int, bytes]:
        return (
            self.entry_id,
            self.enterprise,
            self.reader_institution,
            self.reader,
            self.scope,
            self.read_at,
            self.response_digest,
        )

    def leaf(self) -> bytes:
        """``keccak256(bytes.concat(keccak256(abi.encode(entry))))``: the contract's
        ``hashReadLogEntry``, for :class:`registry.merkle.MerkleTree`."""
        types = ["uint64", "bytes32", "bytes32", "address", "bytes32", "uint64", "bytes32"]
        return keccak(keccak(abi_encode(types, list(self.as_tuple()))))


# --- state as the contract reports it -------------------------------------------------------------


class ConsentStatus(enum.IntEnum):
    """Mirrors ``IConsentRegistry.ConsentStatus``."""

    NONE = 0
    GRANTED = 1
    REVOKED = 2


@dataclass(frozen=True)
class ConsentRecord:
    """``consentOf``: the last message applied to an (enterprise, grantee, scope)."""

    status: ConsentStatus
    epoch: int
    expiry: int
    nonce: int
    signer: ChecksumAddress | None


def consent_in_force(record: ConsentRecord, binding: Binding, timestamp: int) -> bool:
    """The contract's ``isConsentActive`` rule at ``timestamp`` (unix seconds): granted under the
    enterprise's current binding and not expired."""
    return (
        binding.bound
        and record.status is ConsentStatus.GRANTED
        and record.epoch == binding.epoch
        and record.expiry > timestamp
    )


@dataclass(frozen=True)
class Binding:
    """``bindingOf``: ``account`` stays after unbinding (``bound`` False), for the record."""

    account: ChecksumAddress | None
    key_version: int
    epoch: int
    bound: bool


@dataclass(frozen=True)
class ReadLogBatch:
    merkle_root: bytes
    first_entry: int
    last_entry: int


@dataclass(frozen=True)
class Anchored:
    batch_index: int
    tx: TxResult


# --- the contract ---------------------------------------------------------------------------------


class ConsentRegistry(ConsortiumContract):
    NAME = "ConsentRegistry"

    def domain(self) -> ConsentDomain:
        """The signing domain as the contract itself reports it (EIP-5267 ``eip712Domain``)."""
        _, name, version, chain_id, verifying_contract, _, _ = self.chain.call(
            self.contract.functions.eip712Domain()
        )
        return ConsentDomain(chain_id, to_checksum_address(verifying_contract), name, version)

    # --- transactions -------------------------------------------------------------------------

    def bind_enterprise(self, signer: Signer, account: str, enterprise: Fingerprint) -> TxResult:
        """Binds the enterprise fingerprint (``Keyring.fingerprint(Enterprise(uscc))``) to
        ``account``; ``signer`` needs REGISTRAR_ROLE."""
        return self.execute(signer, self.bind_enterprise_call(account, enterprise))

    def bind_enterprise_call(self, account: str, enterprise: Fingerprint) -> Call[TxResult]:
        """:meth:`bind_enterprise`, prepared."""
        function = self.contract.functions.bindEnterprise(
            account, enterprise.digest, enterprise.key_version
        )
        return Call(function, lambda tx: tx)

    def unbind_enterprise(self, signer: Signer, enterprise: bytes) -> TxResult:
        function = self.contract.functions.unbindEnterprise(enterprise)
        return self.chain.transact(signer, function)

    def grant(self, relayer: Signer, consent: Consent, signature: bytes) -> TxResult:
        """Relays a signed consent; ``relayer`` may be anyone with gas."""
        return self.execute(relayer, self.grant_call(consent, signature))

    def grant_call(self, consent: Consent, signature: bytes) -> Call[TxResult]:
        """:meth:`grant`, prepared."""
        function = self.contract.functions.grantConsent(consent.as_tuple(), signature)
        return Call(function, lambda tx: tx)

    def revoke(self, relayer: Signer, revocation: Revocation, signature: bytes) -> TxResult:
        """Relays a signed revocation; ``relayer`` may be anyone with gas."""
        return self.execute(relayer, self.revoke_call(revocation, signature))

    def revoke_call(self, revocation: Revocation, signature: bytes) -> Call[TxResult]:
        """:meth:`revoke`, prepared."""
        function = self.contract.functions.revokeConsent(revocation.as_tuple(), signature)
        return Call(function, lambda tx: tx)

    def anchor_read_log(
        self, signer: Signer, merkle_root: bytes, first_entry: int, last_entry: int
    ) -> Anchored:
        """Anchors entries ``first_entry``..``last_entry``; ``signer`` needs OPERATOR_ROLE."""
        function = self.contract.functions.anchorReadLog(merkle_root, first_entry, last_entry)
        tx = self.chain.transact(signer, function)
        (anchored,) = self.events(tx, "ReadLogAnchored")
        return Anchored(batch_index=int(anchored["batchIndex"]), tx=tx)

    # --- views --------------------------------------------------------------------------------

    def is_consent_active(
        self,
        enterprise: bytes,
        grantee_institution: bytes,
        scope: bytes,
        block: int | str = "latest",
    ) -> bool:
        function = self.contract.functions.isConsentActive(enterprise, grantee_institution, scope)
        return bool(self.chain.call(function, block))

    def is_consent_active_at(
        self,
        enterprise: bytes,
        grantee_institution: bytes,
        scope: bytes,
        timestamp: int,
        block: int | str = "latest",
    ) -> bool:
        """:meth:`is_consent_active` judged at ``timestamp`` (unix seconds) instead of the block's.

        The contract's view compares the expiry with the timestamp of the block it runs on, and a
        node that mines only when a transaction comes (the dev nodes, a quiet consortium chain)
        keeps answering "active" past the expiry until the next block. SPEC wants an expired
        consent to deny access at once, so the API asks this with its own clock: the same rule,
        applied to the stored record and binding, both read at ``block``.
        """
        record = self.consent_of(enterprise, grantee_institution, scope, block)
        return consent_in_force(record, self.binding_of(enterprise, block), timestamp)

    def is_consent_active_for(
        self, enterprise: bytes, account: str, scope: bytes, block: int | str = "latest"
    ) -> bool:
        """:meth:`is_consent_active` for the institution ``account`` acts for."""
        function = self.contract.functions.isConsentActiveFor(enterprise, account, scope)
        return bool(self.chain.call(function, block))

    def consent_of(
        self,
        enterprise: bytes,
        grantee_institution: bytes,
        scope: bytes,
        block: int | str = "latest",
    ) -> ConsentRecord:
        function = self.contract.functions.consentOf(enterprise, grantee_institution, scope)
        status, epoch, expiry, nonce, signer = self.chain.call(function, block)
        return ConsentRecord(ConsentStatus(status), epoch, expiry, nonce, address_or_none(signer))

    def enterprise_of(self, account: str, block: int | str = "latest") -> bytes | None:
        found = bytes(self.chain.call(self.contract.functions.enterpriseOf(account), block))
        return None if found == bytes(32) else found

    def address_of(self, enterprise: bytes, block: int | str = "latest") -> ChecksumAddress | None:
        return address_or_none(
            self.chain.call(self.contract.functions.addressOf(enterprise), block)
        )

    def binding_of(self, enterprise: bytes, block: int | str = "latest") -> Binding:
        account, key_version, epoch, bound = self.chain.call(
            self.contract.functions.bindingOf(enterprise), block
        )
        return Binding(address_or_none(account), key_version, epoch, bool(bound))

    def is_nonce_used(self, enterprise: bytes, nonce: int, block: int | str = "latest") -> bool:
        function = self.contract.functions.isNonceUsed(enterprise, nonce)
        return bool(self.chain.call(function, block))

    def hash_consent(self, consent: Consent) -> bytes:
        return bytes(self.chain.call(self.contract.functions.hashConsent(consent.as_tuple())))

    def hash_revocation(self, revocation: Revocation) -> bytes:
        function = self.contract.functions.hashRevocation(revocation.as_tuple())
        return bytes(self.chain.call(function))

    def hash_read_log_entry(self, entry: ReadLogEntry) -> bytes:
        function = self.contract.functions.hashReadLogEntry(entry.as_tuple())
        return bytes(self.chain.call(function))

    def read_log_root(self, batch_index: int, block: int | str = "latest") -> bytes:
        function = self.contract.functions.readLogRoot(batch_index)
        return bytes(self.chain.call(function, block))

    def read_log_batch(self, batch_index: int, block: int | str = "latest") -> ReadLogBatch:
        function = self.contract.functions.readLogBatch(batch_index)
        root, first, last = self.chain.call(function, block)
        return ReadLogBatch(bytes(root), first, last)

    def read_log_batch_count(self, block: int | str = "latest") -> int:
        return int(self.chain.call(self.contract.functions.readLogBatchCount(), block))

    def next_read_log_entry(self, block: int | str = "latest") -> int:
        return int(self.chain.call(self.contract.functions.nextReadLogEntry(), block))

    def verify_read_log_entry(
        self,
        batch_index: int,
        entry: ReadLogEntry,
        proof: Sequence[bytes],
        block: int | str = "latest",
    ) -> bool:
        """Whether ``entry`` is in the batch: id in range, leaf under the root by ``proof``."""
        function = self.contract.functions.verifyReadLogEntry(
            batch_index, entry.as_tuple(), list(proof)
        )
        return bool(self.chain.call(function, block))

    def verify_read_log_leaf(
        self, batch_index: int, leaf: bytes, proof: Sequence[bytes], block: int | str = "latest"
    ) -> bool:
        """Whether ``leaf`` is a node of the batch's tree (an inner node passes too)."""
        function = self.contract.functions.verifyReadLogLeaf(batch_index, leaf, list(proof))
        return bool(self.chain.call(function, block))
