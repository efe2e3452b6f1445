"""grantConsent: relayed by anyone, for an institution and all its accounts; unbound
enterprises, zero terms and expired consents refused.
"""

from __future__ import annotations

from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    ConsentRecord,
    ConsentStatus,
    Revocation,
    institution_id,
)
from registry.contracts.roles import OPERATOR_ROLE, REGISTRAR_ROLE
from tests.conftest import hx
from tests.contracts.consents.conftest import BANK_A, BANK_B, SCOPE_LOAN_REVIEW, Registry, unbound


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


def test_consent_already_expired_is_refused(reg: Registry) -> None:
    who = reg.enterprise()
    now = reg.now()
    consent = reg.consent(who, nonce=1, expiry=now)
    details = reg.violated("consent-already-expired", lambda: reg.grant(who, consent))
    assert details["expiry"] == now
    assert details["timestamp"] >= now
    assert not reg.registry.is_nonce_used(who.fp, 1)


def test_unbound_enterprise_and_zero_terms_are_refused(reg: Registry) -> None:
    stranger = reg.enterprise(bind=False)
    details = unbound(reg, lambda: reg.grant(stranger, reg.consent(stranger, nonce=1)))
    assert details == {"enterprise": hx(stranger.fp)}
    unbound(
        reg,
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
