"""EIP-712 typed data: the domain, type hashes, digests and signatures agree between Python,
eth-account and the contract.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import errors
from registry.contracts.consents import (
    CONSENT_TYPEHASH,
    REVOCATION_TYPEHASH,
    SCOPE_CREDIT_REPORT,
    Consent,
    Revocation,
    consent_digest,
    consent_signer,
    consent_typed_data,
    domain,
    revocation_digest,
    revocation_signer,
    revocation_typed_data,
    sign_consent,
)
from registry.fingerprint import Fingerprint
from tests.contracts.consents.conftest import BANK_A, SECP256K1_N, Registry, hashes


def test_domain_and_type_hashes_agree_with_the_contract(any_reg: Registry) -> None:
    reg = any_reg
    assert reg.registry.domain() == domain(reg.stack.chain.chain_id, reg.registry.address)
    functions = reg.registry.contract.functions
    assert bytes(reg.stack.chain.call(functions.CONSENT_TYPEHASH())) == CONSENT_TYPEHASH
    assert bytes(reg.stack.chain.call(functions.REVOCATION_TYPEHASH())) == REVOCATION_TYPEHASH


def test_digests_and_signatures_agree_on_both_nodes(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise()
    consent = reg.consent(who, nonce=7)
    revocation = Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 8)

    assert reg.registry.hash_consent(consent) == consent_digest(reg.domain, consent)
    assert reg.registry.hash_revocation(revocation) == revocation_digest(reg.domain, revocation)
    assert consent_signer(reg.domain, consent, reg.sign(who, consent)) == who.address
    assert revocation_signer(reg.domain, revocation, reg.sign(who, revocation)) == who.address
    # The signature recovers to the bound account on chain too: the grant goes through.
    reg.grant(who, consent)
    assert reg.active(who)


def test_typed_data_is_what_a_wallet_signs(reg: Registry) -> None:
    consent = Consent(b"\x01" * 32, BANK_A, SCOPE_CREDIT_REPORT, 2_000_000_000, 5)
    typed = consent_typed_data(reg.domain, consent)
    assert typed["primaryType"] == "Consent"
    assert [field["name"] for field in typed["types"]["Consent"]] == [
        "enterprise",
        "granteeInstitution",
        "scope",
        "expiry",
        "nonce",
    ]
    assert typed["domain"] == {
        "name": "CreditRegistryConsent",
        "version": "1",
        "chainId": reg.stack.chain.chain_id,
        "verifyingContract": reg.registry.address,
    }
    # A signature made for another chain (or another deployment) is a signature of another digest.
    elsewhere = domain(reg.stack.chain.chain_id + 1, reg.registry.address)
    assert consent_digest(elsewhere, consent) != consent_digest(reg.domain, consent)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("enterprise", b"\x01" * 31, "bytes32"),
        ("scope", "0x" + "00" * 32, "bytes32"),
        ("expiry", 2**64, "uint-range"),
        ("nonce", -1, "uint-range"),
        ("nonce", True, "uint-range"),
    ],
)
def test_malformed_consent_refused_before_the_chain(field: str, value: object, rule: str) -> None:
    good = Consent(b"\x01" * 32, BANK_A, SCOPE_CREDIT_REPORT, 2_000_000_000, 5)
    with pytest.raises(errors.InvalidInput) as raised:
        replace(good, **{field: value})
    assert (raised.value.field, raised.value.rule) == (field, rule)


def eip191_digest(typed_data: dict[str, Any]) -> bytes:
    """eth-account's own encoding of a typed message, hashed as EIP-191 version 0x01 prescribes."""
    signable = encode_typed_data(full_message=typed_data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


enterprise_keys = st.integers(min_value=1, max_value=SECP256K1_N - 1)
nonzero_hashes = hashes.filter(lambda value: value != bytes(32))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    private_key=enterprise_keys,
    enterprise=nonzero_hashes,
    key_version=st.integers(min_value=1, max_value=2**16 - 1),
    grantee=nonzero_hashes,
    scope=nonzero_hashes,
    # At least an hour: the binding mines a block, and the clock moves on before the grant.
    lifetime=st.integers(min_value=3_600, max_value=2**40),
    nonce=st.integers(min_value=0, max_value=2**256 - 1),
)
def test_python_and_contract_agree_on_random_consents(
    reg: Registry,
    private_key: int,
    enterprise: bytes,
    key_version: int,
    grantee: bytes,
    scope: bytes,
    lifetime: int,
    nonce: int,
) -> None:
    """Three routes to one digest (by hand, eth-account, the contract) and a signature from
    eth-account that the contract recovers to the bound account."""
    account = Account.from_key(private_key.to_bytes(32, "big"))
    consent = Consent(enterprise, grantee, scope, min(reg.now() + lifetime, 2**64 - 1), nonce)
    revocation = Revocation(enterprise, grantee, scope, nonce)
    signature = sign_consent(account.key, reg.domain, consent)

    digest = consent_digest(reg.domain, consent)
    assert eip191_digest(consent_typed_data(reg.domain, consent)) == digest
    assert reg.registry.hash_consent(consent) == digest
    assert consent_signer(reg.domain, consent, signature) == account.address
    digest = revocation_digest(reg.domain, revocation)
    assert eip191_digest(revocation_typed_data(reg.domain, revocation)) == digest
    assert reg.registry.hash_revocation(revocation) == digest

    snapshot = reg.stack.snapshot()
    try:
        reg.registry.bind_enterprise(
            reg.registrar, account.address, Fingerprint(key_version, enterprise)
        )
        reg.registry.grant(reg.relayer, consent, signature)
        assert reg.registry.is_consent_active(enterprise, grantee, scope)
        assert reg.registry.consent_of(enterprise, grantee, scope).signer == account.address
    finally:
        reg.stack.revert(snapshot)
