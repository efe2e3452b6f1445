"""OpenZeppelin's upgrades-core, asked through ``scripts/upgrade-safety.cjs``: whether a contract
is safe behind a proxy, its storage layout, and whether one layout may replace another.

The layouts are upgrades-core's own (what its network manifests keep), so the comparison is the
library's, not ours. Needs Node and ``npm ci``, as compiling does; deploying and indexing do not.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.errors import ConfigurationError

__all__ = ["PROJECT_ROOT", "LayoutReport", "compare", "layouts"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The checkout: where ``contracts/``, ``scripts/`` and ``node_modules/`` are."""
SCRIPT = PROJECT_ROOT / "scripts" / "upgrade-safety.cjs"


@dataclass(frozen=True)
class LayoutReport:
    """Whether a storage layout may replace another behind the same proxy."""

    ok: bool
    explanation: str
    """upgrades-core's account of what is incompatible (empty when ``ok``)."""


def _ask(command: str, request: dict[str, Any]) -> Any:
    node = shutil.which("node")
    if node is None or not (PROJECT_ROOT / "node_modules/@openzeppelin/upgrades-core").is_dir():
        raise ConfigurationError("checking upgrade safety needs Node and `npm ci` in a checkout")
    done = subprocess.run(
        [node, str(SCRIPT), command],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise ConfigurationError(f"upgrades-core {command}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def layouts(
    standard_input: dict[str, Any], output: dict[str, Any], solc_version: str, names: list[str]
) -> dict[str, dict[str, Any]]:
    """For each contract of ``names`` in solc's ``output``: ``layout`` (its storage layout) and
    ``errors`` (why it is unsafe behind a UUPS proxy; empty when it is safe)."""
    # upgrades-core reads the sources themselves (for line numbers in its explanations).
    contents = {name: {"content": (PROJECT_ROOT / name).read_text()} for name in output["sources"]}
    request = {
        "input": {**standard_input, "sources": contents},
        "output": output,
        "solcVersion": solc_version,
        "contracts": names,
    }
    found: dict[str, dict[str, Any]] = _ask("layouts", request)
    return found


def compare(original: dict[str, Any], updated: dict[str, Any]) -> LayoutReport:
    """Whether code laid out as ``updated`` may replace code laid out as ``original``."""
    answer = _ask("compare", {"original": original, "updated": updated})
    return LayoutReport(ok=answer["ok"], explanation=answer["explanation"])
