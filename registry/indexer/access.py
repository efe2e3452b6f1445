"""Who may do what, on every contract: roles (OpenZeppelin ``AccessControl``) and the institutions
behind accounts (``ConsortiumAccess``), from their events.

Projections (see :mod:`registry.db.schema`):

- ``role_grants``: one entity per (contract, role, account), ``granted`` or ``revoked``, with who
  granted and who revoked it. ``AccessControl`` emits ``RoleGranted`` only when the account lacked
  the role and ``RoleRevoked`` only when it had it (a renunciation too, with the account itself as
  sender), so the current versions are exactly the contract's ``hasRole``.
- ``institution_assignments``: one entity per (contract, account) while the account acts for an
  institution other than itself. Assigning zero makes the account its own institution again, which
  ends the entity: an account without a current row acts for itself, as ``institutionOf`` says.

``RoleAdminChanged`` has no projection (no contract of ours changes a role's admin; its events row
is the record should one ever do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_typing import ChecksumAddress, HexStr
from sqlalchemy import Connection

from registry.contracts.roles import ROLE_NAMES
from registry.db.schema import institution_assignments, role_grants
from registry.indexer.decode import EventRecord
from registry.indexer.load import IndexedContract, event_row_only
from registry.indexer.versioned import VersionedTable

__all__ = [
    "CONTRACT",
    "AccessProjections",
    "InstitutionAssigned",
    "RoleAdminChanged",
    "RoleGranted",
    "RoleRevoked",
    "assignment_key",
    "grant_key",
]


@dataclass(frozen=True, kw_only=True)
class RoleGranted(EventRecord):
    role: HexStr
    account: ChecksumAddress
    sender: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class RoleRevoked(EventRecord):
    role: HexStr
    account: ChecksumAddress
    sender: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class RoleAdminChanged(EventRecord):
    role: HexStr
    previous_admin_role: HexStr
    new_admin_role: HexStr


@dataclass(frozen=True, kw_only=True)
class InstitutionAssigned(EventRecord):
    account: ChecksumAddress
    institution: HexStr
    admin: ChecksumAddress


_ZERO_HASH = HexStr("0x" + "00" * 32)


def grant_key(contract: str, role: str, account: str) -> str:
    """The ``role_grants`` key: ``<contract>/<role>/<account>``."""
    return f"{contract}/{role}/{account}"


def assignment_key(contract: str, account: str) -> str:
    """The ``institution_assignments`` key: ``<contract>/<account>``."""
    return f"{contract}/{account}"


class AccessProjections:
    """The chunk's working sets of ``role_grants`` and ``institution_assignments``."""

    def __init__(self, connection: Connection) -> None:
        self.role_grants = VersionedTable(connection, role_grants, "id")
        self.institution_assignments = VersionedTable(connection, institution_assignments, "id")

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        self.role_grants.load(
            {
                grant_key(r.contract, r.role, r.account)
                for r in records
                if isinstance(r, RoleGranted | RoleRevoked)
            }
        )
        self.institution_assignments.load(
            {
                assignment_key(r.contract, r.account)
                for r in records
                if isinstance(r, InstitutionAssigned)
            }
        )

    def write(self) -> None:
        self.role_grants.write()
        self.institution_assignments.write()


def _on_role_granted(p: AccessProjections, event: RoleGranted) -> None:
    p.role_grants.put(
        grant_key(event.contract, event.role, event.account),
        event.block_number,
        {
            "contract": event.contract,
            "role": event.role,
            "role_name": ROLE_NAMES.get(event.role),
            "account": event.account,
            "status": "granted",
            "granted_by": event.sender,
            "revoked_by": None,
        },
    )


def _on_role_revoked(p: AccessProjections, event: RoleRevoked) -> None:
    key = grant_key(event.contract, event.role, event.account)
    p.role_grants.require(key, event, "granted")
    p.role_grants.put(key, event.block_number, {"status": "revoked", "revoked_by": event.sender})


def _on_institution_assigned(p: AccessProjections, event: InstitutionAssigned) -> None:
    assignments = p.institution_assignments
    key = assignment_key(event.contract, event.account)
    if event.institution != _ZERO_HASH:
        assignments.put(
            key,
            event.block_number,
            {
                "contract": event.contract,
                "account": event.account,
                "institution": event.institution,
                "assigned_by": event.admin,
            },
        )
    elif assignments.get(key) is not None:
        assignments.remove(key, event.block_number)
    # Zero for an account that acted for itself already changes nothing but the events row.


CONTRACT: IndexedContract[AccessProjections] = IndexedContract(
    name="access (every contract)",
    projections=AccessProjections,
    handlers={
        InstitutionAssigned: _on_institution_assigned,
        RoleAdminChanged: event_row_only,
        RoleGranted: _on_role_granted,
        RoleRevoked: _on_role_revoked,
    },
)
"""The access records of every contract, each with its handler, and their working set."""
