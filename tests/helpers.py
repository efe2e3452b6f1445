"""Helpers the test modules share, written once: the check that an operation was refused by its
rule and changed nothing, funded accounts, and the ledger documents most tests register.

Plain functions, classes and constants, imported by name; fixtures live in the conftest.py files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import pytest

from registry import errors
from registry.chain.client import Signer
from registry.contracts.binding import ConsortiumContract
from registry.contracts.ledger import DeclarationTerm, ReceivableTerms
from registry.contracts.roles import Role
from registry.credentials import ApiCredential, ApiSecrets, DevSecrets
from registry.devstack import fund_dev_accounts, grant_roles
from tests.conftest import Stack, fp
from tests.models.ledger import EXPORTER

MATURITY = 2_000_000_000
"""A maturity (2033) beyond any clock the tests move a node to."""
FUNDING_WEI = 10**18
"""The ether a test gives a new account: more than the transactions it sends from it cost."""

Contract = TypeVar("Contract", bound=ConsortiumContract)


# --- refusals -------------------------------------------------------------------------------------


def refused(
    stack: Stack, error: type[errors.RegistryError], rule: str, action: Callable[[], object]
) -> errors.RegistryError:
    """Runs ``action``, expects ``error`` under ``rule``, and checks that the chain is as it was:
    no block mined, and the head's hash (which commits to the whole state) unchanged. The bindings
    estimate first, so a refused operation sends nothing."""
    before = stack.tip()
    with pytest.raises(error) as raised:
        action()
    assert raised.value.rule == rule, raised.value
    assert stack.tip() == before
    return raised.value


def violated(
    stack: Stack,
    rule: str,
    action: Callable[[], object],
    error: type[errors.RegistryError] = errors.RegistryError,
) -> dict[str, Any]:
    """Like :func:`refused` for a contract rule, of any category (not-found and access rules
    included) unless ``error`` narrows it; returns the decoded error's arguments."""
    details: dict[str, Any] = refused(stack, error, rule, action).details
    return details


# --- accounts -------------------------------------------------------------------------------------


def funded(
    stack: Stack,
    *roles: bytes,
    on: ConsortiumContract | None = None,
    signer: Signer | None = None,
) -> Signer:
    """``signer`` (a new account unless given) with :data:`FUNDING_WEI` from the node's own first
    account, and the ``roles`` the admin grants it on the contract ``on``."""
    if signer is None:
        signer = Signer.generate()
    stack.chain.send_value(stack.chain.w3.eth.accounts[0], signer.address, FUNDING_WEI)
    for role in roles:
        assert on is not None, "a role is granted on a contract: pass on="
        on.grant_role(stack.admin.signer, role, signer.address)
    return signer


def with_banks(stack: Stack, count: int) -> DevSecrets:
    """The stack's secrets with ``count`` generated banks more, each funded, with its own API key
    and its own account holding the lender role (on every contract that checks it)."""
    secrets = stack.secrets.with_lenders(count)
    fund_dev_accounts(stack.chain, secrets)
    grant_roles(stack.chain, stack.deployment, secrets)
    return secrets


@dataclass
class Deployed(Generic[Contract]):
    """A contract of the test's stack, with the checks above bound to that stack: the base of the
    ``reg`` the pledge and consent registry tests take."""

    stack: Stack
    registry: Contract

    rule_error: ClassVar[type[errors.RegistryError]] = errors.RegistryError
    """The class :meth:`violated` expects: any domain error unless a subclass narrows it."""

    @property
    def admin(self) -> Signer:
        return self.stack.admin.signer

    def new_signer(self, role: bytes | None = None) -> Signer:
        """A funded new account, with ``role`` on this contract if given."""
        return funded(self.stack, *(() if role is None else (role,)), on=self.registry)

    def refused(
        self, error: type[errors.RegistryError], rule: str, action: Callable[[], object]
    ) -> errors.RegistryError:
        return refused(self.stack, error, rule, action)

    def violated(self, rule: str, action: Callable[[], object]) -> dict[str, Any]:
        return violated(self.stack, rule, action, self.rule_error)


def without_signing_key(stack: Stack, bank: str) -> ApiSecrets:
    """The API's secrets with ``bank``'s API key and account but not its signing key: a bank
    that signs elsewhere (an HSM, a wallet), or whose key was withdrawn."""
    full = stack.secrets.api_secrets()
    kept = full.institution(bank)
    return ApiSecrets(
        full.keyring,
        tuple(i for i in full.institutions if i.name != bank),
        (*full.key_only, ApiCredential(bank, Role.LENDER, kept.signer.address, kept.api_key)),
    )


# --- ledger documents -----------------------------------------------------------------------------


def terms(
    invoice: str, face_value: int = 100_000, exporter: bytes = EXPORTER, maturity: int = MATURITY
) -> ReceivableTerms:
    """An invoice under key version 1, in USD; its id is ``fp(invoice)``."""
    return ReceivableTerms(fp(invoice), exporter, 1, face_value, "USD", maturity)


def decls(*declarations: tuple[str, int]) -> list[DeclarationTerm]:
    """``(number, declared value)`` pairs as the declarations a registration presents."""
    return [DeclarationTerm(fp(number), value) for number, value in declarations]


def register(
    stack: Stack,
    signer: Signer,
    invoice: str,
    *declarations: tuple[str, int],
    face_value: int = 100_000,
    maturity: int = MATURITY,
) -> bytes:
    """Registers ``invoice`` with its ``declarations`` on the stack's ledger; returns its id."""
    stack.ledger.register(
        signer, terms(invoice, face_value, maturity=maturity), decls(*declarations)
    )
    return fp(invoice)
