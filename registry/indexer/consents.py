"""The ConsentRegistry's events, and the ``enterprise_bindings``, ``consents`` and
``read_log_anchors`` projections built from them.

- ``enterprise_bindings``: one entity per enterprise fingerprint: the bound account, key version,
  epoch, and whether it is bound now (the account stays after unbinding, as ``bindingOf`` keeps
  it).
- ``consents``: one entity per (enterprise, grantee institution, scope): the last message applied,
  ``granted`` or ``revoked``, with its nonce, epoch, signer and relayer; the expiry is the last
  grant's, kept after a revocation (0 if there never was a grant), as ``consentOf`` reports it.
  Whether a consent is *active* depends on time and on the binding; it is not stored but derived
  (:func:`registry.db.read.consent_active_as_of`), by the contract's rule.
- ``read_log_anchors``: append-only, one row per anchored batch of the API's read log (root and
  entry range), like ``financings``.

``EIP712DomainChanged`` (EIP-5267) has no projection: the contract's domain never changes, and its
events row would be the record if it did.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress, HexStr
from sqlalchemy import Connection

from registry.db.bulk import insert_rows
from registry.db.schema import consents, enterprise_bindings, read_log_anchors
from registry.indexer.decode import EventRecord
from registry.indexer.load import IndexedContract, event_row_only
from registry.indexer.versioned import VersionedTable

__all__ = [
    "CONTRACT",
    "ConsentGranted",
    "ConsentProjections",
    "ConsentRevoked",
    "ConsentStatus",
    "EIP712DomainChanged",
    "EnterpriseBound",
    "EnterpriseUnbound",
    "ReadLogAnchored",
    "consent_key",
]


class ConsentStatus(enum.StrEnum):
    """The projection's spelling of ``IConsentRegistry.ConsentStatus``."""

    GRANTED = "granted"
    REVOKED = "revoked"


@dataclass(frozen=True, kw_only=True)
class EnterpriseBound(EventRecord):
    enterprise: HexStr
    account: ChecksumAddress
    key_version: int
    epoch: int
    registrar: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class EnterpriseUnbound(EventRecord):
    enterprise: HexStr
    account: ChecksumAddress
    epoch: int
    registrar: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class ConsentGranted(EventRecord):
    enterprise: HexStr
    grantee_institution: HexStr
    scope: HexStr
    expiry: int
    nonce: int
    epoch: int
    signer: ChecksumAddress
    relayer: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class ConsentRevoked(EventRecord):
    enterprise: HexStr
    grantee_institution: HexStr
    scope: HexStr
    nonce: int
    epoch: int
    signer: ChecksumAddress
    relayer: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class ReadLogAnchored(EventRecord):
    batch_index: int
    merkle_root: HexStr
    first_entry: int
    last_entry: int
    operator: ChecksumAddress


@dataclass(frozen=True, kw_only=True)
class EIP712DomainChanged(EventRecord):
    """Declared by OpenZeppelin's EIP712 (EIP-5267); no argument."""


def consent_key(enterprise: str, grantee_institution: str, scope: str) -> str:
    """The ``consents`` key: ``<enterprise>/<grantee institution>/<scope>``."""
    return f"{enterprise}/{grantee_institution}/{scope}"


_ANCHOR_COLUMNS = (
    "contract",
    "batch_index",
    "merkle_root",
    "first_entry",
    "last_entry",
    "operator",
    "block_number",
    "log_index",
    "tx_hash",
)


class ConsentProjections:
    """The chunk's working sets of ``enterprise_bindings`` and ``consents``, and its rows of
    ``read_log_anchors``."""

    def __init__(self, connection: Connection) -> None:
        self.bindings = VersionedTable(connection, enterprise_bindings, "enterprise")
        self.consents = VersionedTable(connection, consents, "id")
        self.anchors: list[tuple[Any, ...]] = []
        """Rows of ``read_log_anchors``, in the order of :data:`_ANCHOR_COLUMNS`."""
        self._connection = connection

    def prefetch(self, records: Sequence[EventRecord]) -> None:
        self.bindings.load(
            {r.enterprise for r in records if isinstance(r, EnterpriseBound | EnterpriseUnbound)}
        )
        self.consents.load(
            {
                consent_key(r.enterprise, r.grantee_institution, r.scope)
                for r in records
                if isinstance(r, ConsentGranted | ConsentRevoked)
            }
        )

    def write(self) -> None:
        self.bindings.write()
        self.consents.write()
        insert_rows(self._connection, read_log_anchors, _ANCHOR_COLUMNS, self.anchors)


def _on_enterprise_bound(p: ConsentProjections, event: EnterpriseBound) -> None:
    # A rebinding replaces every column: a new account, key version and epoch.
    p.bindings.put(
        event.enterprise,
        event.block_number,
        {
            "account": event.account,
            "key_version": event.key_version,
            "epoch": event.epoch,
            "bound": True,
            "registrar": event.registrar,
        },
    )


def _on_enterprise_unbound(p: ConsentProjections, event: EnterpriseUnbound) -> None:
    bindings = p.bindings
    bindings.require(event.enterprise, event, "bound")
    bindings.put(
        event.enterprise,
        event.block_number,
        {
            "account": event.account,
            "epoch": event.epoch,
            "bound": False,
            "registrar": event.registrar,
        },
    )


def _message(event: ConsentGranted | ConsentRevoked, status: str) -> dict[str, Any]:
    return {
        "enterprise": event.enterprise,
        "grantee_institution": event.grantee_institution,
        "scope": event.scope,
        "status": status,
        "nonce": event.nonce,
        "epoch": event.epoch,
        "signer": event.signer,
        "relayer": event.relayer,
    }


def _on_consent_granted(p: ConsentProjections, event: ConsentGranted) -> None:
    p.consents.put(
        consent_key(event.enterprise, event.grantee_institution, event.scope),
        event.block_number,
        {**_message(event, ConsentStatus.GRANTED.value), "expiry": event.expiry},
    )


def _on_consent_revoked(p: ConsentProjections, event: ConsentRevoked) -> None:
    table = p.consents
    key = consent_key(event.enterprise, event.grantee_institution, event.scope)
    # A revocation may come first (it cancels a consent signed but not yet relayed): the
    # contract's expiry is then 0.
    previous = table.get(key)
    expiry = 0 if previous is None else previous["expiry"]
    table.put(
        key, event.block_number, {**_message(event, ConsentStatus.REVOKED.value), "expiry": expiry}
    )


def _on_read_log_anchored(p: ConsentProjections, event: ReadLogAnchored) -> None:
    p.anchors.append(
        (
            event.contract,
            event.batch_index,
            event.merkle_root,
            event.first_entry,
            event.last_entry,
            event.operator,
            event.block_number,
            event.log_index,
            event.tx_hash,
        )
    )


CONTRACT: IndexedContract[ConsentProjections] = IndexedContract(
    name="ConsentRegistry",
    projections=ConsentProjections,
    handlers={
        ConsentGranted: _on_consent_granted,
        ConsentRevoked: _on_consent_revoked,
        EIP712DomainChanged: event_row_only,
        EnterpriseBound: _on_enterprise_bound,
        EnterpriseUnbound: _on_enterprise_unbound,
        ReadLogAnchored: _on_read_log_anchored,
    },
)
"""The ConsentRegistry's records, each with its handler, and their working set."""
