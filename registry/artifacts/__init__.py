"""Compiled contracts, committed beside the code so the package runs without a compiler or Node."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from registry.errors import ConfigurationError

__all__ = ["ARTIFACTS_DIR", "PROXY", "Artifact", "all_abis", "artifacts_digest", "load_artifact"]

ARTIFACTS_DIR = Path(__file__).parent
PROXY = "ERC1967Proxy"
"""What every contract of ours runs behind: OpenZeppelin's ERC-1967 proxy, as it is."""


@dataclass(frozen=True)
class Artifact:
    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: dict[str, Any]
    storage_layout: dict[str, Any] | None = None
    """upgrades-core's account of where the contract keeps its state, for a contract that runs
    behind a proxy: what an upgrade's new code is checked against
    (:mod:`registry.artifacts.upgrade_safety`)."""

    @property
    def code_digest(self) -> str:
        """What tells one version of the contract's code from another: its creation bytecode's
        hash (the code a proxy runs embeds its own address, so the running code's hash differs
        from one deployment to the next)."""
        return "0x" + hashlib.sha256(self.bytecode.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        data = {
            "contractName": self.contract_name,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "compiler": self.compiler,
        }
        if self.storage_layout is not None:
            data["storageLayout"] = self.storage_layout
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            contract_name=data["contractName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            compiler=data["compiler"],
            storage_layout=data.get("storageLayout"),
        )


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """The compiled contract ``name``: this release's, or one in ``directory`` (an upgrade's)."""
    path = directory / f"{name}.json"
    if not path.is_file():
        hint = "; run `make artifacts`" if directory == ARTIFACTS_DIR else ""
        raise ConfigurationError(f"no compiled artifact for {name} in {directory}{hint}")
    try:
        return Artifact.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError) as error:
        raise ConfigurationError(f"malformed artifact {path}: {error}") from error


def all_abis() -> list[list[dict[str, Any]]]:
    """The ABIs of every committed contract: what a chain client decodes revert data with."""
    return [load_artifact(path.stem).abi for path in sorted(ARTIFACTS_DIR.glob("*.json"))]


def artifacts_digest() -> str:
    """SHA-256 over the committed artifacts, recorded in the deployment manifest."""
    digest = hashlib.sha256()
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return "0x" + digest.hexdigest()
