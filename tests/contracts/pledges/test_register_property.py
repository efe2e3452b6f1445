"""registerProperty and setDefaultMaxLtv: a property registered once, under the default LTV
or its own.
"""

from __future__ import annotations

import pytest

from registry.contracts.pledges import POLICY_DEFAULT_MAX_LTV_BPS, PropertyState, PropertyStatus
from tests.conftest import fp, hx
from tests.contracts.pledges.conftest import CAP, VALUE, Registry


def test_register_property_applies_the_default_ltv(any_reg: Registry) -> None:
    reg = any_reg
    tx = reg.registry.register_property(reg.registrar, fp("P1"), 3, VALUE, "CNY")

    assert reg.registry.get_property(fp("P1")) == PropertyState(
        status=PropertyStatus.NORMAL,
        key_version=3,
        max_ltv_bps=POLICY_DEFAULT_MAX_LTV_BPS,
        currency="CNY",
        applications=0,
        appraised_value=VALUE,
        secured_amount=0,
        seizures=0,
    )
    assert reg.registry.headroom(fp("P1")) == CAP
    (event,) = reg.registry.events(tx, "PropertyRegistered")
    assert event == {
        "property": fp("P1"),
        "registrar": reg.registrar.address,
        "keyVersion": 3,
        "appraisedValue": VALUE,
        "currency": b"CNY",
        "maxLtvBps": POLICY_DEFAULT_MAX_LTV_BPS,
    }


def test_register_property_with_its_own_ltv(reg: Registry) -> None:
    prop = reg.register("P1", ltv_bps=5000)
    assert reg.registry.get_property(prop).max_ltv_bps == 5000
    assert reg.registry.headroom(prop) == VALUE // 2


@pytest.mark.parametrize(
    ("value", "ltv_bps", "rule"),
    [(0, 0, "zero-amount"), (VALUE, 10_001, "max-ltv-out-of-range")],
)
def test_register_property_refuses_bad_terms(
    reg: Registry, value: int, ltv_bps: int, rule: str
) -> None:
    reg.violated(rule, lambda: reg.register("P1", value=value, ltv_bps=ltv_bps))
    assert reg.registry.get_property(fp("P1")).status is PropertyStatus.NONE


def test_property_registered_once(reg: Registry) -> None:
    prop = reg.register("P1")
    details = reg.violated(
        "property-already-registered", lambda: reg.register("P1", value=VALUE * 2)
    )
    assert details == {"property": hx(prop)}
    assert reg.registry.get_property(prop).appraised_value == VALUE


def test_admin_sets_the_default_ltv_for_new_properties(reg: Registry) -> None:
    old = reg.register("P1")
    tx = reg.registry.set_default_max_ltv(reg.admin, 6000)
    new = reg.register("P2")

    assert reg.registry.default_max_ltv_bps() == 6000
    assert reg.registry.events(tx, "DefaultMaxLtvSet") == [
        {"maxLtvBps": 6000, "admin": reg.admin.address}
    ]
    assert reg.registry.get_property(old).max_ltv_bps == POLICY_DEFAULT_MAX_LTV_BPS
    assert reg.registry.get_property(new).max_ltv_bps == 6000
    for bad in (0, 10_001):
        details = reg.violated(
            "max-ltv-out-of-range", lambda bad=bad: reg.registry.set_default_max_ltv(reg.admin, bad)
        )
        assert details == {"maxLtvBps": bad}
