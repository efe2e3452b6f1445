"""Nonces: each message's nonce is the enterprise's, used once, in any order across grantees."""

from __future__ import annotations

from registry.contracts.consents import SCOPE_CREDIT_REPORT, Revocation
from tests.conftest import hx
from tests.contracts.consents.conftest import BANK_A, BANK_B, Registry


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
