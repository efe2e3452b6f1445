"""Signatures: only the bound account's, for this message and domain; ECDSA's own errors for
malformed ones; contract wallets through ERC-1271.
"""

from __future__ import annotations

from dataclasses import replace

from eth_account import Account

from registry import errors
from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    Consent,
    Revocation,
    domain,
    sign_consent,
)
from registry.fingerprint import Enterprise
from tests.conftest import hx
from tests.contracts.consents.conftest import (
    BANK_A,
    DAY,
    SECP256K1_N,
    EnterpriseKey,
    Registry,
    uscc,
)


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
