"""Deploys the contracts and writes the deployment manifest the indexer and the API read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry.artifacts import PROXY, artifacts_digest, load_artifact
from registry.chain.client import Chain, Signer
from registry.contracts.binding import deploy_contract
from registry.contracts.ledger import AdvanceRates
from registry.errors import ConfigurationError

__all__ = ["CONTRACT_NAMES", "ContractDeployment", "Deployment", "deploy"]

CONTRACT_NAMES = ("ReceivableLedger", "PledgeRegistry", "ConsentRegistry")
"""Every contract of a deployment, in deployment order."""


@dataclass(frozen=True)
class ContractDeployment:
    """One contract: its proxy (the address everyone uses, for good) and the code it runs."""

    address: str
    block_number: int
    tx_hash: str
    """The proxy's creation (which initialized it)."""
    implementation: str
    """The code the proxy runs since the last upgrade (the admin's manifest follows upgrades)."""
    storage_layout: dict[str, Any]
    """That code's storage layout: what the next upgrade's code is checked against."""
    code_digest: str
    """Which version of the code that is (:attr:`registry.artifacts.Artifact.code_digest`)."""


@dataclass(frozen=True)
class Deployment:
    """The deployment manifest: where the contracts are and which code they run."""

    chain_id: int
    deployer: str
    deployment_block: int
    artifacts_digest: str
    deployed_at: str
    contracts: dict[str, ContractDeployment]

    def address_of(self, name: str) -> str:
        try:
            return self.contracts[name].address
        except KeyError:
            raise ConfigurationError(f"the manifest has no {name}") from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        contracts = {name: ContractDeployment(**c) for name, c in data["contracts"].items()}
        return cls(**{**data, "contracts": contracts})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        if not path.is_file():
            raise ConfigurationError(f"no deployment manifest at {path}; run `creditreg deploy`")
        try:
            data = json.loads(path.read_text())
            if any("implementation" not in c for c in data["contracts"].values()):
                raise ConfigurationError(
                    f"{path} describes contracts deployed before they ran behind proxies (an "
                    "earlier release): they cannot be upgraded in place. Start a new registry "
                    "(`creditreg up --fresh` on the dev chain, `creditreg deploy` on a network; "
                    "`creditreg backup` first keeps the old one)"
                )
            return cls.from_json(data)
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigurationError(f"malformed deployment manifest {path}: {error}") from error


def _deploy_one(chain: Chain, deployer: Signer, name: str, *args: Any) -> ContractDeployment:
    """``name``'s code, and a proxy to it initialized with ``args``."""
    artifact = load_artifact(name)
    if artifact.storage_layout is None:
        raise ConfigurationError(
            f"{name} is compiled without its storage layout; run `make artifacts`"
        )
    implementation, _ = deploy_contract(chain, deployer, name)
    initialize = chain.w3.eth.contract(abi=artifact.abi).encode_abi("initialize", args=list(args))
    address, result = deploy_contract(chain, deployer, PROXY, implementation, initialize)
    return ContractDeployment(
        address=address,
        block_number=result.block_number,
        tx_hash=result.tx_hash,
        implementation=implementation,
        storage_layout=artifact.storage_layout,
        code_digest=artifact.code_digest,
    )


def deploy(chain: Chain, deployer: Signer, rates: AdvanceRates) -> Deployment:
    """Deploys every contract behind its proxy with ``deployer`` as admin, the ledger with the
    advance ``rates`` (the admin changes them later with ``setAdvanceRates``)."""
    ledger = _deploy_one(
        chain,
        deployer,
        "ReceivableLedger",
        deployer.address,
        rates.verified_bps,
        rates.unverified_bps,
    )
    contracts = {
        "ReceivableLedger": ledger,
        # Both take only their admin; policy (the default maximum LTV) starts at SPEC's default.
        "PledgeRegistry": _deploy_one(chain, deployer, "PledgeRegistry", deployer.address),
        "ConsentRegistry": _deploy_one(chain, deployer, "ConsentRegistry", deployer.address),
    }
    return Deployment(
        chain_id=chain.chain_id,
        deployer=deployer.address,
        deployment_block=min(c.block_number for c in contracts.values()),
        artifacts_digest=artifacts_digest(),
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        contracts=contracts,
    )
