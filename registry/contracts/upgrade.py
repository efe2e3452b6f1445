"""Upgrades a deployed contract in place: new code behind the same proxy, every record kept.

Every contract of a deployment runs behind an ERC-1967 proxy and authorizes its own upgrades
(UUPS, ``ConsortiumAccess._authorizeUpgrade``: the admin only). Before anything is sent:

- the proxy must run the code the manifest names: the manifest's storage layout is what the new
  code is checked against, so a manifest that missed an upgrade is refused rather than trusted;
- OpenZeppelin's upgrades-core must find the new code's storage layout compatible with the
  running code's (:mod:`registry.artifacts.upgrade_safety`): a slot moved or retyped would make
  the new code read the registry's records as something else.

Then the new implementation is deployed and the proxy pointed at it (``upgradeToAndCall``); the
proxy emits ``Upgraded``, which the index records (``contract_code``) and follows without a replay:
the address, the storage and the events it already indexed stay what they were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from eth_typing import BlockIdentifier, ChecksumAddress
from eth_utils.crypto import keccak

from registry.artifacts import Artifact, load_artifact, upgrade_safety
from registry.chain.client import Chain, Signer
from registry.contracts.binding import deploy_artifact
from registry.contracts.deploy import ContractDeployment, Deployment
from registry.errors import ConfigurationError

__all__ = ["IMPLEMENTATION_SLOT", "Upgrade", "implementation_of", "upgrade_contract"]

IMPLEMENTATION_SLOT = int.from_bytes(keccak(b"eip1967.proxy.implementation"), "big") - 1
"""Where an ERC-1967 proxy keeps the address of the code it runs."""


@dataclass(frozen=True)
class Upgrade:
    """One contract pointed at new code."""

    name: str
    previous: str
    implementation: str
    tx_hash: str
    block_number: int


def implementation_of(
    chain: Chain, proxy: str, block: BlockIdentifier = "latest"
) -> ChecksumAddress:
    """The code ``proxy`` runs at ``block``, read from its ERC-1967 slot."""
    word = chain.w3.eth.get_storage_at(
        chain.w3.to_checksum_address(proxy), IMPLEMENTATION_SLOT, block
    )
    return chain.w3.to_checksum_address(bytes(word)[-20:])


def upgrade_contract(
    chain: Chain,
    admin: Signer,
    deployment: Deployment,
    name: str,
    artifact: Artifact | None = None,
) -> tuple[Deployment, Upgrade | None]:
    """Points ``name``'s proxy at ``artifact`` (the committed one by default); returns the
    manifest that follows, and the upgrade (None when the proxy runs that code already).

    Raises :class:`ConfigurationError`, sending nothing, when the manifest does not name the
    running code or the storage layouts are incompatible; the contract's refusal (a signer
    without the admin role: ``missing-role``) when the upgrade is refused on chain."""
    artifact = artifact or load_artifact(name)
    current = deployment.contracts.get(name)
    if current is None:
        raise ConfigurationError(f"the manifest has no {name}")
    if artifact.storage_layout is None:
        raise ConfigurationError(f"{artifact.contract_name} is compiled without its storage layout")
    running = implementation_of(chain, current.address)
    if running != chain.w3.to_checksum_address(current.implementation):
        raise ConfigurationError(
            f"{name} runs {running}, the manifest says {current.implementation}: use the manifest "
            "of the upgrade that deployed it"
        )
    if artifact.code_digest == current.code_digest:
        return deployment, None
    report = upgrade_safety.compare(current.storage_layout, artifact.storage_layout)
    if not report.ok:
        raise ConfigurationError(
            f"{name}: the new code keeps its state elsewhere than the running code "
            f"(nothing was sent):\n{report.explanation}"
        )
    implementation, _ = deploy_artifact(chain, admin, artifact)
    proxy = chain.w3.eth.contract(
        address=chain.w3.to_checksum_address(current.address), abi=artifact.abi
    )
    result = chain.transact(admin, proxy.functions.upgradeToAndCall(implementation, b""))
    upgraded = replace(
        current,
        implementation=implementation,
        storage_layout=artifact.storage_layout,
        code_digest=artifact.code_digest,
    )
    contracts: dict[str, ContractDeployment] = {**deployment.contracts, name: upgraded}
    return replace(deployment, contracts=contracts), Upgrade(
        name=name,
        previous=running,
        implementation=implementation,
        tx_hash=result.tx_hash,
        block_number=result.block_number,
    )
