"""Compiles ``contracts/`` with a pinned solc through py-solc-x and writes the committed artifacts.

The artifacts (ABI and bytecode) live inside the package so that deploying and indexing need no
compiler and no Node. Compiling needs a checkout: a native ``solc`` of the pinned version where one
is configured or on PATH, otherwise the npm ``solc`` package through ``scripts/solc-wasm``. Both are
the same compiler, so they produce the same bytecode.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import solcx

from registry.chain.artifacts import ARTIFACTS_DIR, Artifact
from registry.errors import ConfigurationError

__all__ = ["EVM_VERSION", "PROJECT_ROOT", "compile_contracts", "find_solc", "write_artifacts"]

# Shanghai is the newest hardfork ganache runs; anvil runs it too, so both nodes get the same code.
EVM_VERSION = "shanghai"
OPTIMIZER_RUNS = 200
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
NODE_MODULES = PROJECT_ROOT / "node_modules"
WASM_WRAPPER = PROJECT_ROOT / "scripts" / "solc-wasm"


def _version_of(binary: Path | str) -> str | None:
    try:
        return str(solcx.wrapper.get_solc_version(binary))
    except (OSError, subprocess.CalledProcessError, solcx.exceptions.SolcError):
        return None


def find_solc(version: str, configured: Path | None = None) -> Path:
    """The solc executable to use: configured, else native on PATH, else the WebAssembly wrapper."""
    if configured is not None:
        found = _version_of(configured)
        if found != version:
            raise ConfigurationError(
                f"solc at {configured} is {found or 'not runnable'}, need {version}"
            )
        return configured
    native = shutil.which("solc")
    if native and _version_of(native) == version:
        return Path(native)
    if _version_of(WASM_WRAPPER) == version:
        return WASM_WRAPPER
    raise ConfigurationError(
        f"no solc {version}: install it on PATH, set CREDITREG_SOLC_BINARY, or run `npm ci`"
    )


def _standard_input(sources: list[str]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        # Source unit names are paths relative to the project root, so the metadata (and with it the
        # bytecode) is the same on every machine.
        "sources": {name: {"urls": [name]} for name in sources},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "remappings": ["@openzeppelin/=node_modules/@openzeppelin/"],
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def compile_contracts(solc: Path, version: str) -> dict[str, Artifact]:
    """Compiles every contract in ``contracts/``; returns the deployable ones by name."""
    sources = sorted(str(p.relative_to(PROJECT_ROOT)) for p in CONTRACTS_DIR.glob("*.sol"))
    output = solcx.compile_standard(
        _standard_input(sources),
        base_path=PROJECT_ROOT,
        allow_paths=[CONTRACTS_DIR, NODE_MODULES],
        solc_binary=solc,
    )
    artifacts: dict[str, Artifact] = {}
    for source in sources:
        for name, contract in output["contracts"][source].items():
            bytecode = contract["evm"]["bytecode"]["object"]
            if not bytecode:  # interfaces and abstract contracts
                continue
            artifacts[name] = Artifact(
                contract_name=name,
                abi=contract["abi"],
                bytecode="0x" + bytecode,
                deployed_bytecode="0x" + contract["evm"]["deployedBytecode"]["object"],
                compiler={
                    "version": version,
                    "evmVersion": EVM_VERSION,
                    "optimizerRuns": OPTIMIZER_RUNS,
                },
            )
    return artifacts


def write_artifacts(artifacts: dict[str, Artifact], directory: Path = ARTIFACTS_DIR) -> list[Path]:
    """Writes one JSON file per contract, replacing stale ones."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    written = []
    for name, artifact in sorted(artifacts.items()):
        path = directory / f"{name}.json"
        path.write_text(json.dumps(artifact.to_json(), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
