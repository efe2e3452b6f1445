"""ConsentRegistry: enterprise bindings, relayed EIP-712 consents and the anchored read log: what
the consent registry's test modules share.

The tests act on the stack's own registry (the snapshot taken around each test undoes what it
did). Each refusal is checked for its decoded domain error, its rule, and for leaving the chain
unchanged (no block mined, the head's hash as before): the binding estimates first, so a refused
operation sends nothing.

Enterprises sign with keys that hold no ether: every grant and revocation here is relayed by an
account with no role and no relation to the enterprise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hypothesis import strategies as st

from registry import errors
from registry.chain.client import Signer
from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    Consent,
    ConsentDomain,
    ConsentRegistry,
    Revocation,
    domain,
    sign_consent,
    sign_revocation,
)
from registry.fingerprint import Enterprise, Fingerprint
from tests.conftest import Stack
from tests.helpers import Deployed, violated

DAY = 86_400
BANK_A = keccak(text="institution: Bank A")
BANK_B = keccak(text="institution: Bank B")
SCOPE_LOAN_REVIEW = keccak(text="LOAN_REVIEW")
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

hashes = st.binary(min_size=32, max_size=32)


def uscc(serial: int) -> str:
    """A valid USCC (check digit computed): a Fuzhou company with registration number ``serial``."""
    body = f"91350100{serial:09d}"
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_CHARSET[(31 - total % 31) % 31]


@dataclass
class EnterpriseKey:
    """An enterprise: its fingerprint and the key that speaks for it (holding no ether)."""

    fingerprint: Fingerprint
    account: LocalAccount

    @property
    def fp(self) -> bytes:
        return self.fingerprint.digest

    @property
    def address(self) -> str:
        return str(self.account.address)


@dataclass
class Registry(Deployed[ConsentRegistry]):
    """The stack's ConsentRegistry with one account per role, the registry center's clerk
    (registrar) and the API operator, and customs as the relayer: it holds no role on this
    contract and has no relation to any enterprise."""

    # Every rule the consent registry refuses by is a rule violation, never a not-found or an
    # access rule: violated() expects that category.
    rule_error: ClassVar[type[errors.RegistryError]] = errors.RuleViolation
    serial: int = 0

    @property
    def registrar(self) -> Signer:
        return self.stack.registrar.signer

    @property
    def operator(self) -> Signer:
        return self.stack.operator.signer

    @property
    def relayer(self) -> Signer:
        return self.stack.verifier.signer

    @property
    def domain(self) -> ConsentDomain:
        return domain(self.stack.chain.chain_id, self.registry.address)

    def now(self) -> int:
        return int(self.stack.chain.w3.eth.get_block("latest")["timestamp"])

    def travel(self, seconds: int) -> None:
        """Moves the node's clock forward and mines a block at the new time."""
        provider = self.stack.chain.w3.provider
        provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def enterprise(self, bind: bool = True) -> EnterpriseKey:
        self.serial += 1
        fingerprint = self.stack.secrets.keyring.fingerprint(Enterprise(uscc(self.serial)))
        key = EnterpriseKey(fingerprint, Account.create())
        if bind:
            self.registry.bind_enterprise(self.registrar, key.address, fingerprint)
        return key

    def consent(
        self,
        who: EnterpriseKey,
        nonce: int,
        grantee: bytes = BANK_A,
        scope: bytes = SCOPE_CREDIT_REPORT,
        expiry: int | None = None,
    ) -> Consent:
        return Consent(who.fp, grantee, scope, expiry or self.now() + 30 * DAY, nonce)

    def sign(self, who: EnterpriseKey, message: Consent | Revocation) -> bytes:
        if isinstance(message, Consent):
            return sign_consent(who.account.key, self.domain, message)
        return sign_revocation(who.account.key, self.domain, message)

    def grant(self, who: EnterpriseKey, consent: Consent) -> Any:
        return self.registry.grant(self.relayer, consent, self.sign(who, consent))

    def revoke(self, who: EnterpriseKey, revocation: Revocation) -> Any:
        return self.registry.revoke(self.relayer, revocation, self.sign(who, revocation))

    def active(self, who: EnterpriseKey, grantee: bytes = BANK_A) -> bool:
        return self.registry.is_consent_active(who.fp, grantee, SCOPE_CREDIT_REPORT)


@pytest.fixture
def reg(stack: Stack) -> Registry:
    return Registry(stack, stack.consents)


@pytest.fixture
def any_reg(any_stack: Stack) -> Registry:
    return Registry(any_stack, any_stack.consents)


def unbound(reg: Registry, action: Callable[[], object]) -> dict[str, Any]:
    """``action`` refused because no account is bound to the enterprise: the one consent
    refusal that is a not-found (404 over HTTP), not a rule."""
    return violated(reg.stack, "enterprise-not-bound", action, errors.EnterpriseNotBound)
