"""multicall: a relayer batches grants, all or nothing."""

from __future__ import annotations

from tests.contracts.consents.conftest import Registry


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
