"""Compiled contracts, committed beside the code so the package runs without a compiler or Node."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from registry.errors import ConfigurationError

__all__ = ["ARTIFACTS_DIR", "Artifact", "all_abis", "artifacts_digest", "load_artifact"]

ARTIFACTS_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Artifact:
    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "contractName": self.contract_name,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
            "compiler": self.compiler,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            contract_name=data["contractName"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            compiler=data["compiler"],
        )


@cache
def load_artifact(name: str) -> Artifact:
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file():
        raise ConfigurationError(f"no compiled artifact for {name}; run `make artifacts`")
    return Artifact.from_json(json.loads(path.read_text()))


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
