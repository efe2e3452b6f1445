"""Consent expiry: on time, judged by the block's clock or the caller's between blocks."""

from __future__ import annotations

from registry.contracts.consents import SCOPE_CREDIT_REPORT, ConsentStatus, Revocation
from tests.contracts.consents.conftest import BANK_A, BANK_B, Registry


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
