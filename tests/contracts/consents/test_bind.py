"""bindEnterprise and unbindEnterprise: one account per enterprise and one enterprise per
account; unbinding or rebinding ends the old binding's consents for good.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    Binding,
    ConsentRecord,
    ConsentStatus,
    Revocation,
)
from tests.conftest import hx
from tests.contracts.consents.conftest import BANK_A, BANK_B, EnterpriseKey, Registry, unbound


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
    unbound(reg, lambda: reg.registry.unbind_enterprise(reg.registrar, who.fp))
    unbound(reg, lambda: reg.grant(who, reg.consent(who, nonce=2)))

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
