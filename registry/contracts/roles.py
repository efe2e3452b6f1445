"""The consortium's roles, as ``contracts/ConsortiumAccess.sol`` declares them: the one place that
names them for the bindings, the indexer, the audit, the credentials and the API.

Two vocabularies meet here. On chain a role is a ``bytes32`` id (``keccak256("LENDER_ROLE")``,
zero for the admin); off chain an institution has a :class:`Role` (``lender``), which decides what
its API key may do and which chain role it is granted (:attr:`Role.chain_role`).
:data:`CONTRACT_ROLES` says which of them each contract checks, and so which ones the dev setup
grants there.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from eth_utils.crypto import keccak

__all__ = [
    "CONTRACT_ROLES",
    "DEFAULT_ADMIN_ROLE",
    "ENFORCER_ROLE",
    "LENDER_ROLE",
    "OPERATOR_ROLE",
    "REGISTRAR_ROLE",
    "ROLE_IDS",
    "ROLE_NAMES",
    "VERIFIER_ROLE",
    "Role",
]

DEFAULT_ADMIN_ROLE = bytes(32)
"""OpenZeppelin's admin role: grants and revokes the others, assigns institutions, sets policy."""
LENDER_ROLE = keccak(text="LENDER_ROLE")
"""Banks: register and finance documents, apply for and release pledges."""
REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
"""The registration center: properties, appraisals, pledge decisions, enterprise bindings."""
VERIFIER_ROLE = keccak(text="VERIFIER_ROLE")
"""Customs: attests export declarations."""
ENFORCER_ROLE = keccak(text="ENFORCER_ROLE")
"""Courts and enforcement offices: seize and unseize properties."""
OPERATOR_ROLE = keccak(text="OPERATOR_ROLE")
"""The API operator: anchors the read log's roots."""

ROLE_IDS: Mapping[str, bytes] = {
    "DEFAULT_ADMIN_ROLE": DEFAULT_ADMIN_ROLE,
    "LENDER_ROLE": LENDER_ROLE,
    "REGISTRAR_ROLE": REGISTRAR_ROLE,
    "VERIFIER_ROLE": VERIFIER_ROLE,
    "ENFORCER_ROLE": ENFORCER_ROLE,
    "OPERATOR_ROLE": OPERATOR_ROLE,
}
"""Every role our contracts declare, by the name of its constant."""

ROLE_NAMES: Mapping[str, str] = {"0x" + role.hex(): name for name, role in ROLE_IDS.items()}
"""The same roles by id (``0x``-hex, as events carry them): an unknown id is an admin's own."""


class Role(enum.StrEnum):
    """What an institution does: what its API key may do, and the chain role it is granted."""

    LENDER = "lender"
    REGISTRAR = "registrar"
    VERIFIER = "verifier"
    ENFORCER = "enforcer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def chain_role(self) -> str:
        """The name of the contracts' role constant (``LENDER_ROLE``, ``DEFAULT_ADMIN_ROLE``)."""
        return "DEFAULT_ADMIN_ROLE" if self is Role.ADMIN else f"{self.name}_ROLE"


CONTRACT_ROLES: Mapping[str, tuple[Role, ...]] = {
    # VERIFIER_ROLE applies where the ledger declares it (attested declarations); a ledger whose
    # ABI has no such role gives customs nothing.
    "ReceivableLedger": (Role.LENDER, Role.VERIFIER),
    "PledgeRegistry": (Role.LENDER, Role.REGISTRAR, Role.ENFORCER),
    # Registrars bind enterprises to their accounts; the operator anchors the read log.
    "ConsentRegistry": (Role.REGISTRAR, Role.OPERATOR),
}
"""Which institutions' roles each contract checks, by contract name: the roles the dev setup
grants there, in this order (every contract inherits all the role constants, most of which it
never uses)."""
