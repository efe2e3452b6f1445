"""Deploys the contracts and writes the deployment manifest the indexer and the API read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry.artifacts import artifacts_digest
from registry.chain.client import Chain, Signer
from registry.contracts.binding import deploy_contract
from registry.contracts.ledger import AdvanceRates
from registry.errors import ConfigurationError

__all__ = ["CONTRACT_NAMES", "ContractDeployment", "Deployment", "deploy"]

CONTRACT_NAMES = ("ReceivableLedger", "PledgeRegistry", "ConsentRegistry")
"""Every contract of a deployment, in deployment order."""


@dataclass(frozen=True)
class ContractDeployment:
    address: str
    block_number: int
    tx_hash: str


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
            return cls.from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigurationError(f"malformed deployment manifest {path}: {error}") from error


def _deploy_one(chain: Chain, deployer: Signer, name: str, *args: Any) -> ContractDeployment:
    address, result = deploy_contract(chain, deployer, name, *args)
    return ContractDeployment(
        address=address, block_number=result.block_number, tx_hash=result.tx_hash
    )


def deploy(chain: Chain, deployer: Signer, rates: AdvanceRates) -> Deployment:
    """Deploys every contract with ``deployer`` as admin, the ledger with the advance ``rates``
    (the admin changes them later with ``setAdvanceRates``)."""
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
