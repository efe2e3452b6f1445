"""Compiles ``contracts/`` with a pinned solc through py-solc-x and writes the committed artifacts.

The artifacts (ABI and bytecode) live inside the package so that deploying and indexing need no
compiler and no Node. Compiling needs a checkout: a native ``solc`` of the pinned version where one
is configured or on PATH, otherwise the npm ``solc`` package through ``scripts/solc-wasm``. Both are
the same compiler, so they produce the same bytecode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import solcx

from registry.artifacts import ARTIFACTS_DIR, PROXY, Artifact, upgrade_safety
from registry.artifacts.upgrade_safety import PROJECT_ROOT
from registry.errors import ConfigurationError

__all__ = ["EVM_VERSION", "PROJECT_ROOT", "compile_contracts", "find_solc", "write_artifacts"]

# Shanghai is the newest hardfork ganache runs; anvil runs it too, so both nodes get the same code.
EVM_VERSION = "shanghai"
OPTIMIZER_RUNS = 200
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
WASM_WRAPPER = PROJECT_ROOT / "scripts" / "solc-wasm"
PROXY_SOURCE = "node_modules/@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol"


def _version_of(binary: Path | str) -> str | None:
    try:
        return str(solcx.wrapper.get_solc_version(binary))
    except (OSError, subprocess.CalledProcessError, solcx.exceptions.SolcError):
        return None


def _is_solc_select_shim(path: Path) -> bool:
    """True for solc-select's ``solc`` entry point (installed beside slither in the venv).

    That shim is a Python script that downloads the selected compiler on first use; offline it
    hangs for about 30 s and then fails, so it must never be mistaken for a native solc.
    """
    try:
        with path.open("rb") as script:
            head = script.read(1024)
    except OSError:
        return False
    return head.startswith(b"#!") and b"solc_select" in head


def _native_solcs() -> list[Path]:
    """Every ``solc`` on PATH, in PATH order, without solc-select's downloading shim."""
    found = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("solc", path=directory or os.curdir)
        if candidate and not _is_solc_select_shim(Path(candidate)):
            found.append(Path(candidate))
    return found


def find_solc(version: str, configured: Path | None = None) -> Path:
    """The solc executable to use: configured, else native on PATH, else the WebAssembly wrapper."""
    if configured is not None:
        found = _version_of(configured)
        if found != version:
            raise ConfigurationError(
                f"solc at {configured} is {found or 'not runnable'}, need {version}"
            )
        return configured
    for native in _native_solcs():
        if _version_of(native) == version:
            return native
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
            # The storage layouts and the syntax trees are what upgrades-core reads; asking for
            # them changes no bytecode.
            "outputSelection": {
                "*": {
                    "*": [
                        "abi",
                        "evm.bytecode.object",
                        "evm.bytecode.linkReferences",
                        "evm.deployedBytecode.object",
                        "evm.methodIdentifiers",
                        "storageLayout",
                    ],
                    "": ["ast"],
                }
            },
        },
    }


def compile_contracts(
    solc: Path,
    version: str,
    extra_sources: Sequence[Path] = (),
) -> dict[str, Artifact]:
    """Compiles every contract in ``contracts/`` (and ``extra_sources``, files under the project
    root: a test's next version of a contract) with the proxy they run behind; returns the
    deployable ones by name, each upgradeable one with its storage layout.

    Raises :class:`ConfigurationError` when upgrades-core finds a contract unsafe to run behind a
    proxy (a constructor that is not allowed, an immutable, a ``delegatecall`` ...)."""
    own = sorted(str(p.relative_to(PROJECT_ROOT)) for p in CONTRACTS_DIR.glob("*.sol"))
    own += sorted(str(p.resolve().relative_to(PROJECT_ROOT)) for p in extra_sources)
    standard_input = _standard_input([*own, PROXY_SOURCE])
    output = solcx.compile_standard(
        standard_input,
        base_path=PROJECT_ROOT,
        allow_paths=[PROJECT_ROOT],
        solc_binary=solc,
    )
    deployable = {
        name: (source, contract)
        for source in [*own, PROXY_SOURCE]
        for name, contract in output["contracts"][source].items()
        if contract["evm"]["bytecode"]["object"]  # not interfaces, libraries or abstract ones
        and (source != PROXY_SOURCE or name == PROXY)
    }
    upgradeable = [name for name in deployable if name != PROXY]
    layouts = upgrade_safety.layouts(standard_input, output, version, upgradeable)
    unsafe = {name: found["errors"] for name, found in layouts.items() if found["errors"]}
    if unsafe:
        raise ConfigurationError(
            "unsafe behind a proxy: "
            + "; ".join(f"{name}: {' '.join(errors)}" for name, errors in unsafe.items())
        )
    return {
        name: Artifact(
            contract_name=name,
            abi=contract["abi"],
            bytecode="0x" + contract["evm"]["bytecode"]["object"],
            deployed_bytecode="0x" + contract["evm"]["deployedBytecode"]["object"],
            compiler={
                "version": version,
                "evmVersion": EVM_VERSION,
                "optimizerRuns": OPTIMIZER_RUNS,
            },
            storage_layout=layouts[name]["layout"] if name in layouts else None,
        )
        for name, (source, contract) in deployable.items()
    }


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
