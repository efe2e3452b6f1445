"""ConsentRegistry: enterprise bindings, relayed EIP-712 consents and the anchored read log.

The tests act on the stack's own registry (the snapshot taken around each test undoes what it
did). Each refusal is checked for its decoded domain error, its rule, and for leaving the chain
unchanged (no block mined, the head's hash as before): the binding estimates first, so a refused
operation sends nothing.

Enterprises sign with keys that hold no ether: every grant and revocation here is relayed by an
account with no role and no relation to the enterprise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import errors
from registry.chain.client import Signer
from registry.contracts.consents import (
    CONSENT_TYPEHASH,
    REVOCATION_TYPEHASH,
    SCOPE_CREDIT_REPORT,
    Binding,
    Consent,
    ConsentDomain,
    ConsentRecord,
    ConsentRegistry,
    ConsentStatus,
    ReadLogBatch,
    ReadLogEntry,
    Revocation,
    consent_digest,
    consent_signer,
    consent_typed_data,
    domain,
    institution_id,
    revocation_digest,
    revocation_signer,
    revocation_typed_data,
    sign_consent,
    sign_revocation,
)
from registry.contracts.roles import OPERATOR_ROLE, REGISTRAR_ROLE
from registry.fingerprint import Enterprise, Fingerprint
from registry.merkle import MerkleTree, verify_proof
from tests.conftest import Stack, hx
from tests.helpers import Deployed

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


def stub_wallet_init_code(accepts: bool) -> str:
    """Creation code of an ERC-1271 wallet stub that accepts (returns the magic value for) every
    signature, or refuses every one (returns zero)."""
    # PUSH4 0x1626ba7e PUSH1 0xe0 SHL PUSH1 0 MSTORE PUSH1 0x20 PUSH1 0 RETURN: magic << 224
    accept = "631626ba7e60e01b60005260206000f3"
    # PUSH1 0x20 PUSH1 0 RETURN: 32 zero bytes
    refuse = "60206000f3"
    runtime = accept if accepts else refuse
    size = f"{len(runtime) // 2:02x}"
    # PUSH1 size PUSH1 12 PUSH1 0 CODECOPY PUSH1 size PUSH1 0 RETURN, then the runtime
    return f"0x60{size}600c60003960{size}6000f3{runtime}"


# --- typed data -----------------------------------------------------------------------------------


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


# --- bindings -------------------------------------------------------------------------------------


def test_bind_enterprise_records_the_binding(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise(bind=False)
    tx = reg.registry.bind_enterprise(reg.registrar, who.address, who.fingerprint)

    assert reg.registry.binding_of(who.fp) == Binding(
        who.address, who.fingerprint.key_version, epoch=1, bound=True
    )
    assert reg.registry.address_of(who.fp) == who.address
    assert reg.registry.enterprise_of(who.address) == who.fp
    (event,) = reg.registry.events(tx, "EnterpriseBound")
    assert event == {
        "enterprise": who.fp,
        "account": who.address,
        "keyVersion": who.fingerprint.key_version,
        "epoch": 1,
        "registrar": reg.registrar.address,
    }


def test_one_account_per_enterprise_and_one_enterprise_per_account(reg: Registry) -> None:
    first = reg.enterprise()
    second = reg.enterprise(bind=False)

    details = reg.violated(
        "enterprise-already-bound",
        lambda: reg.registry.bind_enterprise(reg.registrar, second.address, first.fingerprint),
    )
    assert details == {"enterprise": hx(first.fp), "account": first.address}
    details = reg.violated(
        "account-already-bound",
        lambda: reg.registry.bind_enterprise(reg.registrar, first.address, second.fingerprint),
    )
    assert details == {"account": first.address, "enterprise": hx(first.fp)}
    assert reg.registry.enterprise_of(second.address) is None


@pytest.mark.parametrize(
    ("account", "enterprise", "key_version"),
    [
        ("0x" + "00" * 20, b"\x01" * 32, 1),
        ("0x" + "11" * 20, bytes(32), 1),
        ("0x" + "11" * 20, b"\x01" * 32, 0),
    ],
)
def test_bind_refuses_zero_values(
    reg: Registry, account: str, enterprise: bytes, key_version: int
) -> None:
    function = reg.registry.contract.functions.bindEnterprise(account, enterprise, key_version)
    details = reg.violated(
        "invalid-enterprise-binding", lambda: reg.stack.chain.transact(reg.registrar, function)
    )
    assert details["keyVersion"] == key_version


def test_unbind_deactivates_consents_at_once_and_for_good(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise()
    reg.grant(who, reg.consent(who, nonce=1))
    assert reg.active(who)

    tx = reg.registry.unbind_enterprise(reg.registrar, who.fp)
    (event,) = reg.registry.events(tx, "EnterpriseUnbound")
    assert event == {
        "enterprise": who.fp,
        "account": who.address,
        "epoch": 1,
        "registrar": reg.registrar.address,
    }
    assert not reg.active(who)
    assert reg.registry.address_of(who.fp) is None
    assert reg.registry.enterprise_of(who.address) is None
    assert reg.registry.binding_of(who.fp) == Binding(who.address, 1, epoch=1, bound=False)
    reg.violated(
        "enterprise-not-bound", lambda: reg.registry.unbind_enterprise(reg.registrar, who.fp)
    )
    reg.violated("enterprise-not-bound", lambda: reg.grant(who, reg.consent(who, nonce=2)))

    # Bound again, even to the same account: the old consent stays inactive (a new epoch).
    reg.registry.bind_enterprise(reg.registrar, who.address, who.fingerprint)
    assert reg.registry.binding_of(who.fp).epoch == 2
    assert not reg.active(who)
    assert reg.registry.consent_of(who.fp, BANK_A, SCOPE_CREDIT_REPORT).epoch == 1
    reg.grant(who, reg.consent(who, nonce=2))
    assert reg.active(who)


def test_a_revoked_consent_stays_dead_when_the_same_account_is_bound_again(
    reg: Registry,
) -> None:
    """A consent signed but never relayed, then revoked, must not come back under a new binding
    epoch of the same account: its signature is still the bound account's, but it is superseded."""
    who = reg.enterprise()
    reg.grant(who, reg.consent(who, nonce=1))
    unrelayed = reg.consent(who, nonce=2)
    signature = reg.sign(who, unrelayed)
    reg.revoke(who, Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 3))
    assert not reg.active(who)

    reg.registry.unbind_enterprise(reg.registrar, who.fp)
    reg.registry.bind_enterprise(reg.registrar, who.address, who.fingerprint)
    details = reg.violated(
        "consent-superseded", lambda: reg.registry.grant(reg.relayer, unrelayed, signature)
    )
    assert details == {
        "enterprise": hx(who.fp),
        "granteeInstitution": hx(BANK_A),
        "scope": hx(SCOPE_CREDIT_REPORT),
        "nonce": 2,
        "latestNonce": 3,
    }
    assert not reg.active(who)
    # A new message above the revocation is the enterprise speaking again.
    reg.grant(who, reg.consent(who, nonce=4))
    assert reg.active(who)


def test_rebinding_to_a_new_key_invalidates_the_old_keys_consents(reg: Registry) -> None:
    old = reg.enterprise()
    reg.grant(old, reg.consent(old, nonce=1))
    signed_earlier = reg.consent(old, nonce=5, grantee=BANK_B)
    signature_earlier = reg.sign(old, signed_earlier)

    # Key lost: the registrar moves the enterprise to a new account in one transaction.
    new = EnterpriseKey(old.fingerprint, Account.create())
    reg.registry.multicall(
        reg.registrar,
        [
            reg.registry.call_data("unbindEnterprise", old.fp),
            reg.registry.call_data("bindEnterprise", new.address, new.fp, 1),
        ],
    )
    assert reg.registry.binding_of(new.fp) == Binding(new.address, 1, epoch=2, bound=True)
    assert reg.registry.enterprise_of(old.address) is None
    assert not reg.active(old)

    # Whatever the old key signed, before or after, no longer speaks for the enterprise.
    signed_later = reg.consent(old, nonce=6)
    for consent, signature in [
        (signed_earlier, signature_earlier),
        (signed_later, reg.sign(old, signed_later)),
    ]:
        details = reg.violated(
            "invalid-enterprise-signature",
            lambda c=consent, s=signature: reg.registry.grant(reg.relayer, c, s),
        )
        assert details == {
            "enterprise": hx(old.fp),
            "account": new.address,
            "recovered": old.address,
        }

    # The new key continues above the last message applied to each grantee (nonce 1 to Bank A).
    renewed = reg.consent(new, nonce=2)
    reg.grant(new, renewed)
    assert reg.active(new)
    assert reg.registry.consent_of(new.fp, BANK_A, SCOPE_CREDIT_REPORT) == ConsentRecord(
        ConsentStatus.GRANTED, epoch=2, expiry=renewed.expiry, nonce=2, signer=new.address
    )
    reg.violated("consent-nonce-used", lambda: reg.grant(new, reg.consent(new, nonce=1)))


# --- consents -------------------------------------------------------------------------------------


def test_an_unrelated_relayer_relays_a_grant(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise()
    consent = reg.consent(who, nonce=1)
    assert reg.stack.chain.w3.eth.get_balance(who.address) == 0

    tx = reg.grant(who, consent)

    assert reg.active(who)
    assert not reg.active(who, grantee=BANK_B)
    assert not reg.registry.is_consent_active(who.fp, BANK_A, SCOPE_LOAN_REVIEW)
    assert reg.registry.consent_of(who.fp, BANK_A, SCOPE_CREDIT_REPORT) == ConsentRecord(
        ConsentStatus.GRANTED, epoch=1, expiry=consent.expiry, nonce=1, signer=who.address
    )
    assert reg.registry.is_nonce_used(who.fp, 1)
    assert not reg.registry.is_nonce_used(who.fp, 2)
    (event,) = reg.registry.events(tx, "ConsentGranted")
    assert event == {
        "enterprise": who.fp,
        "granteeInstitution": BANK_A,
        "scope": SCOPE_CREDIT_REPORT,
        "expiry": consent.expiry,
        "nonce": 1,
        "epoch": 1,
        "signer": who.address,
        "relayer": reg.relayer.address,
    }
    for role in (REGISTRAR_ROLE, OPERATOR_ROLE):
        assert not reg.registry.has_role(role, reg.relayer.address)


def test_consent_to_an_institution_covers_all_its_accounts(reg: Registry) -> None:
    who = reg.enterprise()
    branch = reg.new_signer()
    for account in (reg.stack.bank_a.signer.address, branch.address):
        reg.registry.assign_institution(reg.admin, account, BANK_A)
    reg.grant(who, reg.consent(who, nonce=1))

    for account in (reg.stack.bank_a.signer.address, branch.address):
        assert reg.registry.is_consent_active_for(who.fp, account, SCOPE_CREDIT_REPORT)
    assert not reg.registry.is_consent_active_for(
        who.fp, reg.stack.bank_b.signer.address, SCOPE_CREDIT_REPORT
    )

    # A bank account assigned to no institution is an institution of its own.
    single = reg.stack.bank_b.signer.address
    assert reg.registry.institution_of(single) == institution_id(single)
    reg.grant(who, reg.consent(who, nonce=2, grantee=institution_id(single)))
    assert reg.registry.is_consent_active_for(who.fp, single, SCOPE_CREDIT_REPORT)


def test_consent_expires_on_time(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise()
    consent = reg.consent(who, nonce=1, expiry=reg.now() + 3_600)
    reg.grant(who, consent)
    assert reg.active(who)

    reg.travel(3_600)
    assert reg.now() >= consent.expiry
    assert not reg.active(who)
    # Expired, not revoked: the record still says what was granted.
    assert reg.registry.consent_of(who.fp, BANK_A, SCOPE_CREDIT_REPORT).status is (
        ConsentStatus.GRANTED
    )


def test_expiry_judged_by_the_callers_clock_between_blocks(reg: Registry) -> None:
    who = reg.enterprise()
    consent = reg.consent(who, nonce=1, expiry=reg.now() + 3_600)
    reg.grant(who, consent)
    active_at = reg.registry.is_consent_active_at

    assert active_at(who.fp, BANK_A, SCOPE_CREDIT_REPORT, consent.expiry - 1)
    # No block mined since: the view still judges by the last block's time, the API by its own.
    assert not active_at(who.fp, BANK_A, SCOPE_CREDIT_REPORT, consent.expiry)
    assert reg.active(who)
    assert not active_at(who.fp, BANK_B, SCOPE_CREDIT_REPORT, consent.expiry - 1)

    reg.revoke(who, Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 2))
    assert not active_at(who.fp, BANK_A, SCOPE_CREDIT_REPORT, consent.expiry - 1)
    reg.grant(who, reg.consent(who, nonce=3, expiry=consent.expiry))
    reg.registry.unbind_enterprise(reg.registrar, who.fp)
    assert not active_at(who.fp, BANK_A, SCOPE_CREDIT_REPORT, consent.expiry - 1)


def test_consent_already_expired_is_refused(reg: Registry) -> None:
    who = reg.enterprise()
    now = reg.now()
    consent = reg.consent(who, nonce=1, expiry=now)
    details = reg.violated("consent-already-expired", lambda: reg.grant(who, consent))
    assert details["expiry"] == now
    assert details["timestamp"] >= now
    assert not reg.registry.is_nonce_used(who.fp, 1)


def test_revocation_takes_effect_at_once(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise()
    consent = reg.consent(who, nonce=1)
    granted = reg.grant(who, consent)
    reg.grant(who, reg.consent(who, nonce=2, grantee=BANK_B))

    revoked = reg.revoke(who, Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 3))

    assert revoked.block_number == granted.block_number + 2
    assert not reg.active(who)
    assert reg.active(who, grantee=BANK_B)
    assert reg.registry.consent_of(who.fp, BANK_A, SCOPE_CREDIT_REPORT) == ConsentRecord(
        ConsentStatus.REVOKED, epoch=1, expiry=consent.expiry, nonce=3, signer=who.address
    )
    (event,) = reg.registry.events(revoked, "ConsentRevoked")
    assert event == {
        "enterprise": who.fp,
        "granteeInstitution": BANK_A,
        "scope": SCOPE_CREDIT_REPORT,
        "nonce": 3,
        "epoch": 1,
        "signer": who.address,
        "relayer": reg.relayer.address,
    }

    # Consent can be given again, with a later message.
    reg.grant(who, reg.consent(who, nonce=4))
    assert reg.active(who)


def test_replayed_signatures_are_refused(reg: Registry) -> None:
    who = reg.enterprise()
    consent = reg.consent(who, nonce=1)
    signature = reg.sign(who, consent)
    reg.registry.grant(reg.relayer, consent, signature)

    details = reg.violated(
        "consent-nonce-used", lambda: reg.registry.grant(reg.relayer, consent, signature)
    )
    assert details == {"enterprise": hx(who.fp), "nonce": 1}

    revocation = Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 2)
    revocation_signature = reg.sign(who, revocation)
    reg.registry.revoke(reg.relayer, revocation, revocation_signature)
    reg.violated(
        "consent-nonce-used",
        lambda: reg.registry.revoke(reg.relayer, revocation, revocation_signature),
    )
    # The nonce is the enterprise's, whatever the message: another grantee cannot reuse it.
    reg.violated(
        "consent-nonce-used", lambda: reg.grant(who, reg.consent(who, nonce=1, grantee=BANK_B))
    )
    assert not reg.active(who)


def test_nonces_are_unordered_across_grantees(reg: Registry) -> None:
    who = reg.enterprise()
    # Signed in this order, handed to two banks, relayed the other way round: both count.
    to_a = reg.consent(who, nonce=10, grantee=BANK_A)
    to_b = reg.consent(who, nonce=11, grantee=BANK_B)
    reg.grant(who, to_b)
    reg.grant(who, to_a)
    assert reg.active(who, BANK_A)
    assert reg.active(who, BANK_B)


def test_a_consent_signed_before_a_revocation_cannot_be_relayed_after_it(reg: Registry) -> None:
    who = reg.enterprise()
    reg.grant(who, reg.consent(who, nonce=1))
    # A renewal the bank holds back, then the enterprise revokes.
    renewal = reg.consent(who, nonce=2, expiry=reg.now() + 365 * DAY)
    renewal_signature = reg.sign(who, renewal)
    reg.revoke(who, Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 3))

    details = reg.violated(
        "consent-superseded", lambda: reg.registry.grant(reg.relayer, renewal, renewal_signature)
    )
    assert details == {
        "enterprise": hx(who.fp),
        "granteeInstitution": hx(BANK_A),
        "scope": hx(SCOPE_CREDIT_REPORT),
        "nonce": 2,
        "latestNonce": 3,
    }
    assert not reg.active(who)


def test_a_revocation_cancels_a_consent_not_yet_relayed(reg: Registry) -> None:
    who = reg.enterprise()
    pending = reg.consent(who, nonce=1)
    pending_signature = reg.sign(who, pending)

    reg.revoke(who, Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 2))
    assert reg.registry.consent_of(who.fp, BANK_A, SCOPE_CREDIT_REPORT).status is (
        ConsentStatus.REVOKED
    )
    reg.violated(
        "consent-superseded", lambda: reg.registry.grant(reg.relayer, pending, pending_signature)
    )
    # A revocation older than the grant in force is void too.
    reg.grant(who, reg.consent(who, nonce=5))
    reg.violated(
        "consent-superseded",
        lambda: reg.revoke(who, Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 4)),
    )
    assert reg.active(who)


def test_signature_by_another_key_is_refused(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise()
    impostor = EnterpriseKey(who.fingerprint, Account.create())
    consent = reg.consent(who, nonce=1)

    details = reg.violated("invalid-enterprise-signature", lambda: reg.grant(impostor, consent))
    assert details == {
        "enterprise": hx(who.fp),
        "account": who.address,
        "recovered": impostor.address,
    }
    revocation = Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 2)
    reg.violated("invalid-enterprise-signature", lambda: reg.revoke(impostor, revocation))
    assert not reg.registry.is_nonce_used(who.fp, 1)


def test_signature_for_another_message_or_domain_is_refused(reg: Registry) -> None:
    who = reg.enterprise()
    consent = reg.consent(who, nonce=1)
    signature = reg.sign(who, consent)
    # The bank stretches the expiry of what the enterprise signed.
    stretched = replace(consent, expiry=consent.expiry + 365 * DAY)
    reg.violated(
        "invalid-enterprise-signature",
        lambda: reg.registry.grant(reg.relayer, stretched, signature),
    )
    # Signed for another deployment.
    elsewhere = domain(reg.stack.chain.chain_id, "0x" + "22" * 20)
    foreign = sign_consent(who.account.key, elsewhere, consent)
    reg.violated(
        "invalid-enterprise-signature", lambda: reg.registry.grant(reg.relayer, consent, foreign)
    )
    # A revocation signature does not pass for a consent with the same fields.
    as_revocation = reg.sign(who, Revocation(who.fp, BANK_A, SCOPE_CREDIT_REPORT, 1))
    reg.violated(
        "invalid-enterprise-signature",
        lambda: reg.registry.grant(reg.relayer, consent, as_revocation),
    )


def test_malformed_signatures_get_ecdsa_errors(reg: Registry) -> None:
    who = reg.enterprise()
    consent = reg.consent(who, nonce=1)
    signature = reg.sign(who, consent)

    short = reg.refused(
        errors.RuleViolation,
        "ecdsa-invalid-signature-length",
        lambda: reg.registry.grant(reg.relayer, consent, signature[:64]),
    )
    assert short.message == "ECDSAInvalidSignatureLength(length=64)"
    assert short.details == {"length": 64}
    # The same signature with s flipped to the upper half (malleability) is refused.
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    malleated = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    high_s = reg.refused(
        errors.RuleViolation,
        "ecdsa-invalid-signature-s",
        lambda: reg.registry.grant(reg.relayer, consent, malleated),
    )
    assert high_s.message.startswith("ECDSAInvalidSignatureS(")
    assert high_s.details == {"s": hx((SECP256K1_N - s).to_bytes(32, "big"))}
    garbage = reg.refused(
        errors.RuleViolation,
        "ecdsa-invalid-signature",
        lambda: reg.registry.grant(reg.relayer, consent, bytes(64) + b"\x1b"),
    )
    assert garbage.message == "ECDSAInvalidSignature()"
    assert garbage.details == {}
    assert not reg.active(who)


def test_unbound_enterprise_and_zero_terms_are_refused(reg: Registry) -> None:
    stranger = reg.enterprise(bind=False)
    details = reg.violated(
        "enterprise-not-bound", lambda: reg.grant(stranger, reg.consent(stranger, nonce=1))
    )
    assert details == {"enterprise": hx(stranger.fp)}
    reg.violated(
        "enterprise-not-bound",
        lambda: reg.revoke(stranger, Revocation(stranger.fp, BANK_A, SCOPE_CREDIT_REPORT, 1)),
    )

    who = reg.enterprise()
    details = reg.violated(
        "invalid-consent-terms", lambda: reg.grant(who, reg.consent(who, 1, grantee=bytes(32)))
    )
    assert details == {"granteeInstitution": hx(bytes(32)), "scope": hx(SCOPE_CREDIT_REPORT)}
    reg.violated(
        "invalid-consent-terms", lambda: reg.grant(who, reg.consent(who, 1, scope=bytes(32)))
    )
    reg.violated(
        "invalid-consent-terms",
        lambda: reg.revoke(who, Revocation(who.fp, BANK_A, bytes(32), 1)),
    )


def test_contract_wallets_sign_through_erc1271(reg: Registry) -> None:
    wallets = {}
    for accepts in (True, False):
        factory = reg.stack.chain.w3.eth.contract(abi=[], bytecode=stub_wallet_init_code(accepts))
        tx = reg.stack.chain.transact(reg.admin, factory.constructor())
        receipt = reg.stack.chain.w3.eth.get_transaction_receipt(tx.tx_hash)
        wallets[accepts] = receipt["contractAddress"]

    for serial, (accepts, wallet) in enumerate(wallets.items(), start=900):
        fingerprint = reg.stack.secrets.keyring.fingerprint(Enterprise(uscc(serial)))
        reg.registry.bind_enterprise(reg.registrar, wallet, fingerprint)
        consent = Consent(fingerprint.digest, BANK_A, SCOPE_CREDIT_REPORT, reg.now() + DAY, 1)
        # A contract wallet's signature is whatever it accepts (a Safe's is its owners' sigs).
        if accepts:
            reg.registry.grant(reg.relayer, consent, b"approved by the wallet")
            assert reg.registry.is_consent_active(fingerprint.digest, BANK_A, SCOPE_CREDIT_REPORT)
        else:
            details = reg.violated(
                "invalid-enterprise-signature",
                lambda c=consent: reg.registry.grant(reg.relayer, c, b"anything"),
            )
            assert details["recovered"] == "0x" + "00" * 20
            assert details["account"] == wallet


def test_a_relayer_batches_grants_with_multicall(reg: Registry) -> None:
    first, second = reg.enterprise(), reg.enterprise()
    good = [(who, reg.consent(who, nonce=1)) for who in (first, second)]
    calls = [
        reg.registry.call_data("grantConsent", consent.as_tuple(), reg.sign(who, consent))
        for who, consent in good
    ]
    reg.registry.multicall(reg.relayer, calls)
    assert reg.active(first)
    assert reg.active(second)

    # All or nothing: one bad message in the batch refuses it whole.
    third = reg.enterprise()
    fresh = reg.consent(third, nonce=1)
    batch = [
        reg.registry.call_data("grantConsent", fresh.as_tuple(), reg.sign(third, fresh)),
        *calls,
    ]
    reg.violated("consent-nonce-used", lambda: reg.registry.multicall(reg.relayer, batch))
    assert not reg.active(third)


def test_roles_are_enforced_on_chain(any_reg: Registry) -> None:
    reg = any_reg
    who = reg.enterprise(bind=False)
    bank = reg.stack.bank_a.signer
    for outsider in (reg.relayer, bank, reg.operator):
        error = reg.refused(
            errors.MissingRole,
            "missing-role",
            lambda o=outsider: reg.registry.bind_enterprise(o, who.address, who.fingerprint),
        )
        assert error.details == {"account": outsider.address, "neededRole": hx(REGISTRAR_ROLE)}

    reg.registry.bind_enterprise(reg.registrar, who.address, who.fingerprint)
    error = reg.refused(
        errors.MissingRole,
        "missing-role",
        lambda: reg.registry.unbind_enterprise(bank, who.fp),
    )
    assert error.details == {"account": bank.address, "neededRole": hx(REGISTRAR_ROLE)}
    for outsider in (reg.relayer, reg.registrar):
        error = reg.refused(
            errors.MissingRole,
            "missing-role",
            lambda o=outsider: reg.registry.anchor_read_log(o, b"\x01" * 32, 1, 1),
        )
        assert error.details == {"account": outsider.address, "neededRole": hx(OPERATOR_ROLE)}
    error = reg.refused(
        errors.MissingRole,
        "missing-role",
        lambda: reg.registry.assign_institution(reg.registrar, bank.address, BANK_A),
    )
    # The admin's role is the zero role.
    assert error.details == {"account": reg.registrar.address, "neededRole": hx(bytes(32))}


# --- read log -------------------------------------------------------------------------------------


def read_log(first: int, count: int, reader: Signer) -> list[ReadLogEntry]:
    return [
        ReadLogEntry(
            entry_id=entry_id,
            enterprise=keccak(text=f"enterprise {entry_id % 3}"),
            reader_institution=BANK_A,
            reader=reader.address,
            scope=SCOPE_CREDIT_REPORT,
            read_at=1_800_000_000 + entry_id,
            response_digest=keccak(text=f"report {entry_id}"),
        )
        for entry_id in range(first, first + count)
    ]


def test_read_log_batches_anchor_and_verify_on_chain(any_reg: Registry) -> None:
    reg = any_reg
    bank = reg.stack.bank_a.signer
    first = 1
    for batch_index, size in enumerate((1, 2, 3, 5, 8)):
        entries = read_log(first, size, bank)
        tree = MerkleTree([entry.leaf() for entry in entries])
        anchored = reg.registry.anchor_read_log(reg.operator, tree.root, first, first + size - 1)
        assert anchored.batch_index == batch_index
        (event,) = reg.registry.events(anchored.tx, "ReadLogAnchored")
        assert event == {
            "batchIndex": batch_index,
            "merkleRoot": tree.root,
            "firstEntry": first,
            "lastEntry": first + size - 1,
            "operator": reg.operator.address,
        }
        assert reg.registry.read_log_batch(batch_index) == ReadLogBatch(
            tree.root, first, first + size - 1
        )
        for index, entry in enumerate(entries):
            assert reg.registry.hash_read_log_entry(entry) == entry.leaf()
            proof = tree.proof(index)
            assert reg.registry.verify_read_log_entry(batch_index, entry, proof)
            assert reg.registry.verify_read_log_leaf(batch_index, entry.leaf(), proof)
        first += size
    assert reg.registry.read_log_batch_count() == 5
    assert reg.registry.next_read_log_entry() == first


def test_read_log_proofs_expose_tampering(reg: Registry) -> None:
    entries = read_log(1, 6, reg.stack.bank_a.signer)
    tree = MerkleTree([entry.leaf() for entry in entries])
    reg.registry.anchor_read_log(reg.operator, tree.root, 1, 6)
    assert reg.registry.read_log_root(0) == tree.root
    proof = tree.proof(2)
    assert reg.registry.verify_read_log_entry(0, entries[2], proof)

    # Who read what cannot be altered: another reader, another report, another entry's proof.
    altered = [
        replace(entries[2], reader=reg.relayer.address),
        replace(entries[2], response_digest=keccak(text="a doctored report")),
        replace(entries[2], read_at=entries[2].read_at + 1),
    ]
    for entry in altered:
        assert not reg.registry.verify_read_log_entry(0, entry, proof)
        assert not reg.registry.verify_read_log_leaf(0, entry.leaf(), proof)
    assert not reg.registry.verify_read_log_entry(0, entries[2], tree.proof(3))


def test_read_log_entries_outside_the_batch_do_not_verify(reg: Registry) -> None:
    entries = read_log(1, 4, reg.stack.bank_a.signer)
    tree = MerkleTree([entry.leaf() for entry in entries])
    # An operator's slip: the batch claims entries 1..3 but the tree holds four.
    reg.registry.anchor_read_log(reg.operator, tree.root, 1, 3)
    assert reg.registry.verify_read_log_entry(0, entries[2], tree.proof(2))
    assert not reg.registry.verify_read_log_entry(0, entries[3], tree.proof(3))

    # A bare leaf proves only that a node is in the tree: an inner node passes as a "leaf",
    # which is why auditors verify the entry itself.
    inner = MerkleTree([entries[0].leaf(), entries[1].leaf()]).root
    assert reg.registry.verify_read_log_leaf(0, inner, tree.proof(0)[1:])


def test_read_log_ranges_must_be_contiguous(any_reg: Registry) -> None:
    reg = any_reg
    root = b"\x01" * 32
    for first, last in [(0, 3), (2, 3), (1, 0)]:
        details = reg.violated(
            "read-log-range-invalid",
            lambda f=first, la=last: reg.registry.anchor_read_log(reg.operator, root, f, la),
        )
        assert details == {"expectedFirst": 1, "first": first, "last": last}
    reg.registry.anchor_read_log(reg.operator, root, 1, 10)

    for first, last in [(10, 12), (12, 20), (5, 30)]:  # overlap, gap, overlap
        details = reg.violated(
            "read-log-range-invalid",
            lambda f=first, la=last: reg.registry.anchor_read_log(reg.operator, root, f, la),
        )
        assert details["expectedFirst"] == 11
    reg.violated(
        "read-log-root-zero", lambda: reg.registry.anchor_read_log(reg.operator, bytes(32), 11, 11)
    )
    assert reg.registry.anchor_read_log(reg.operator, root, 11, 11).batch_index == 1


def test_a_read_log_batch_is_bounded_so_numbering_never_runs_out(reg: Registry) -> None:
    """One anchor claiming entries up to 2**64 - 1 used to overflow the next entry number and stop
    anchoring for good; a batch now covers at most MAX_READ_LOG_BATCH entries."""
    root = b"\x01" * 32
    most = reg.registry.contract.functions.MAX_READ_LOG_BATCH().call()
    assert most == 2**32
    for last in (2**64 - 1, most + 1):
        details = reg.violated(
            "read-log-range-invalid",
            lambda la=last: reg.registry.anchor_read_log(reg.operator, root, 1, la),
        )
        assert details == {"expectedFirst": 1, "first": 1, "last": last}
    reg.registry.anchor_read_log(reg.operator, root, 1, most)  # the largest batch
    assert reg.registry.next_read_log_entry() == most + 1
    reg.registry.anchor_read_log(reg.operator, root, most + 1, most + 1)
    assert reg.registry.next_read_log_entry() == most + 2


def test_unknown_read_log_batch(reg: Registry) -> None:
    details = reg.violated("read-log-batch-not-found", lambda: reg.registry.read_log_root(0))
    assert details == {"batchIndex": 0, "batchCount": 0}
    entry = read_log(1, 1, reg.stack.bank_a.signer)[0]
    reg.violated(
        "read-log-batch-not-found", lambda: reg.registry.verify_read_log_entry(0, entry, [])
    )
    reg.violated("read-log-batch-not-found", lambda: reg.registry.read_log_batch(0))
    reg.violated(
        "read-log-batch-not-found",
        lambda: reg.registry.verify_read_log_leaf(0, entry.leaf(), []),
    )


# --- the Merkle helper, in Python alone -----------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(leaves=st.lists(hashes, min_size=1, max_size=40), data=st.data())
def test_every_proof_leads_to_the_root(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1))
    proof = tree.proof(index)
    assert verify_proof(proof, tree.root, leaves[index])
    assert len(proof) <= max(1, (len(leaves) - 1).bit_length())
    stranger = data.draw(hashes.filter(lambda leaf: leaf not in leaves))
    assert not verify_proof(proof, tree.root, stranger)


def test_merkle_tree_refuses_bad_input() -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        MerkleTree([])
    assert (raised.value.field, raised.value.rule) == ("leaves", "merkle-tree-empty")
    with pytest.raises(errors.InvalidInput) as raised:
        MerkleTree([b"\x01" * 32, b"short"])
    assert (raised.value.field, raised.value.rule) == ("leaves[1]", "hash-32-bytes")
    with pytest.raises(errors.InvalidInput) as raised:
        MerkleTree([b"\x01" * 32]).proof(1)
    assert (raised.value.field, raised.value.rule) == ("index", "merkle-leaf-index")
    single = MerkleTree([b"\x01" * 32])
    assert single.root == b"\x01" * 32
    assert single.proof(0) == []
