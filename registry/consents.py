"""Consent as its parties ask for it: a registry clerk binds an enterprise's account to its USCC,
a bank asks the enterprise for consent (the API gives it the EIP-712 message to sign in its
wallet), the bank hands the signed consent or revocation to the API, which relays it, and a bank
asks whether it holds consent now.

The enterprise is named on chain by the keyed fingerprint of its USCC, which it cannot compute
itself: the API fills it in, under the key version the enterprise was bound with. The contract
checks the signature against the bound account (an EOA's ECDSA or a contract wallet's ERC-1271)
and refuses an unbound enterprise, a stale nonce, an expired consent. A bank relays only consents
and revocations that name its own institution as grantee.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from registry import inputs
from registry.chain.client import TxResult
from registry.contracts.binding import Call
from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    Binding,
    Consent,
    ConsentRegistry,
    Revocation,
    consent_in_force,
    consent_typed_data,
    next_nonce,
    revocation_typed_data,
)
from registry.errors import EnterpriseNotBound, InvalidInput
from registry.fingerprint import Enterprise, Fingerprint, FingerprintKeyring

__all__ = [
    "SCOPES",
    "Bound",
    "ConsentService",
    "ConsentState",
    "Relayed",
]

SCOPES = {"credit-report": SCOPE_CREDIT_REPORT}
"""The scopes an enterprise can consent to, by the name the API takes."""


@dataclass(frozen=True)
class Bound:
    enterprise_id: str
    key_version: int
    account: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class Relayed:
    """A consent or revocation the chain accepted."""

    enterprise_id: str
    grantee_institution: str
    scope: str
    nonce: int
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class ConsentState:
    enterprise_id: str
    grantee_institution: str
    scope: str
    active: bool
    expiry: int | None
    """Unix seconds the consent lapses at; None when none was ever granted."""


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _scope(name: object) -> bytes:
    if not isinstance(name, str) or name not in SCOPES:
        raise InvalidInput("scope", "consent-scope", f"scope must be one of {sorted(SCOPES)}")
    return SCOPES[name]


def _scope_name(scope: bytes) -> str:
    return next(name for name, value in SCOPES.items() if value == scope)


def _signature(value: object) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise InvalidInput("signature", "signature-format", "signature must be 0x and hex")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidInput(
            "signature", "signature-format", "signature must be 0x and hex"
        ) from None
    if not 1 <= len(raw) <= 1024:
        raise InvalidInput("signature", "signature-format", "signature must be 1 to 1024 bytes")
    return raw


class ConsentService:
    """The consent registry's operations for the API (see the module's docstring)."""

    def __init__(
        self,
        registry: ConsentRegistry,
        keyring: FingerprintKeyring,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.registry = registry
        self.keyring = keyring
        self._today = today

    def prepare_bind(self, uscc: str, account: str) -> Call[Bound]:
        """Binds the enterprise with this USCC to ``account`` (clerk): its key signs consents."""
        if not isinstance(account, str) or not is_address(account):
            raise InvalidInput("account", "account-format", "account must be a 0x address")
        enterprise = self.keyring.fingerprint(Enterprise(uscc))
        bound = to_checksum_address(account)
        call = self.registry.bind_enterprise_call(bound, enterprise)
        return call.read_as(
            lambda tx: Bound(
                enterprise.hex, enterprise.key_version, bound, tx.tx_hash, tx.block_number
            )
        )

    def consent_request(
        self, uscc: str, grantee_institution: bytes, scope: str, expiry_date: date
    ) -> dict[str, Any]:
        """The EIP-712 message the enterprise signs to consent: ``grantee_institution`` may
        read for ``scope`` until 00:00 UTC on ``expiry_date`` (as ``eth_signTypedData_v4``
        takes it, with a fresh nonce)."""
        enterprise = self._bound(uscc)
        expiry = inputs.maturity(expiry_date, self._today(), "expiry_date")
        consent = Consent(
            enterprise.digest, grantee_institution, _scope(scope), expiry, next_nonce()
        )
        return _json_ready(consent_typed_data(self.registry.domain(), consent))

    def revocation_request(
        self, uscc: str, grantee_institution: bytes, scope: str
    ) -> dict[str, Any]:
        """The EIP-712 message the enterprise signs to withdraw its consent."""
        enterprise = self._bound(uscc)
        revocation = Revocation(enterprise.digest, grantee_institution, _scope(scope), next_nonce())
        return _json_ready(revocation_typed_data(self.registry.domain(), revocation))

    def prepare_grant(
        self, grantee_institution: bytes, message: dict[str, Any], signature: str
    ) -> Call[Relayed]:
        """Relays a consent the enterprise signed (``message`` as the request gave it)."""
        consent = Consent(
            _bytes32_field(message, "enterprise"),
            self._own(message, grantee_institution),
            _scope_of(message),
            _int_field(message, "expiry"),
            _int_field(message, "nonce"),
        )
        call = self.registry.grant_call(consent, _signature(signature))
        return call.read_as(lambda tx: _relayed(consent, tx))

    def prepare_revoke(
        self, grantee_institution: bytes, message: dict[str, Any], signature: str
    ) -> Call[Relayed]:
        """Relays a revocation the enterprise signed."""
        revocation = Revocation(
            _bytes32_field(message, "enterprise"),
            self._own(message, grantee_institution),
            _scope_of(message),
            _int_field(message, "nonce"),
        )
        call = self.registry.revoke_call(revocation, _signature(signature))
        return call.read_as(lambda tx: _relayed(revocation, tx))

    def status(self, uscc: str, grantee_institution: bytes, scope: str) -> ConsentState:
        """Whether ``grantee_institution`` holds the enterprise's consent for ``scope`` now,
        judged by this clock (an expired consent denies at once, whatever the last block)."""
        enterprise, binding = self._binding(uscc)
        record = self.registry.consent_of(enterprise.digest, grantee_institution, _scope(scope))
        now = int(datetime.now(UTC).timestamp())
        return ConsentState(
            enterprise.hex,
            _hex(grantee_institution),
            scope,
            consent_in_force(record, binding, now),
            record.expiry if record.nonce else None,
        )

    def _bound(self, uscc: str) -> Fingerprint:
        """The enterprise's fingerprint under the key version it is bound with."""
        return self._binding(uscc)[0]

    def _binding(self, uscc: str) -> tuple[Fingerprint, Binding]:
        """:meth:`_bound`, with the binding it found (read once)."""
        for candidate in self.keyring.candidates(Enterprise(uscc)):
            binding = self.registry.binding_of(candidate.digest)
            if binding.bound:
                return candidate, binding
        raise EnterpriseNotBound("no account is bound to that enterprise")

    @staticmethod
    def _own(message: dict[str, Any], grantee_institution: bytes) -> bytes:
        named = _bytes32_field(message, "granteeInstitution")
        if named != grantee_institution:
            raise InvalidInput(
                "message.granteeInstitution",
                "consent-grantee",
                "a bank relays only consents and revocations naming its own institution",
            )
        return named


def _bytes32_field(message: dict[str, Any], name: str) -> bytes:
    value = message.get(name) if isinstance(message, dict) else None
    try:
        return inputs.hash_id(value, f"message.{name}", "message-field")
    except InvalidInput:
        raise InvalidInput(
            f"message.{name}", "message-field", f"message.{name} must be 0x and 64 hex digits"
        ) from None


def _int_field(message: dict[str, Any], name: str) -> int:
    value = message.get(name) if isinstance(message, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise InvalidInput(
            f"message.{name}", "message-field", f"message.{name} must be a whole number"
        )
    return value


def _scope_of(message: dict[str, Any]) -> bytes:
    raw = _bytes32_field(message, "scope")
    if raw not in SCOPES.values():
        raise InvalidInput("message.scope", "consent-scope", "an unknown scope")
    return raw


def _json_ready(typed: dict[str, Any]) -> dict[str, Any]:
    """``typed`` with its bytes as 0x hex: what JSON and wallets carry (and what a relayed
    message is read back from)."""
    message = {k: _hex(v) if isinstance(v, bytes) else v for k, v in typed["message"].items()}
    return {**typed, "message": message}


def _relayed(signed: Consent | Revocation, tx: TxResult) -> Relayed:
    return Relayed(
        _hex(signed.enterprise),
        _hex(signed.grantee_institution),
        _scope_name(signed.scope),
        signed.nonce,
        tx.tx_hash,
        tx.block_number,
    )
