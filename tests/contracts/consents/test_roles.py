"""The consent registry's roles: bindings are the registrar's, anchors the operator's,
institutions the admin's.
"""

from __future__ import annotations

from registry import errors
from registry.contracts.roles import OPERATOR_ROLE, REGISTRAR_ROLE
from tests.conftest import hx
from tests.contracts.consents.conftest import BANK_A, Registry


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
