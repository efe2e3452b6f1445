"""revokeConsent: takes effect at once and supersedes every consent signed before it."""

from __future__ import annotations

from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    ConsentRecord,
    ConsentStatus,
    Revocation,
)
from tests.conftest import hx
from tests.contracts.consents.conftest import BANK_A, BANK_B, DAY, Registry


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
