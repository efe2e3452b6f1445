"""Static analysis of ``contracts/`` with slither: fails on any high or medium finding.

    .venv/bin/python scripts/slither_check.py    (``make slither``, part of ``make check``)

slither analyses the standard-JSON input that ``creditreg compile`` builds (so it sees exactly the
code that is deployed), asking also for the AST and source maps it reads, compiled by the same solc
(a native one of the pinned version, else the npm wrapper ``scripts/solc-wasm``).

A high or medium finding is accepted only by a ``// slither-disable-next-line DETECTOR`` comment on
the line before the code, with the reason on the lines above it. slither's other ways of hiding
findings (a ``slither.config.json``, a triage database) are shut off here, so the reasons stay in
the code. Findings located only in ``node_modules`` (OpenZeppelin) are not ours to fix and are
counted, not shown; low and informational findings are listed but do not fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from registry.artifacts.compiler import CONTRACTS_DIR, PROJECT_ROOT, _standard_input, find_solc
from registry.settings import get_settings

GATING_IMPACTS = ("High", "Medium")
DEPENDENCIES = "node_modules/"
IMPACT_ORDER = {"High": 0, "Medium": 1, "Low": 2, "Informational": 3, "Optimization": 4}


def analysis_input(root: Path, contracts: Path) -> dict[str, Any]:
    """The compiler's standard-JSON input, with the outputs crytic-compile and slither read."""
    sources = sorted(str(p.relative_to(root)) for p in contracts.glob("*.sol"))
    solc_input = _standard_input(sources)
    solc_input["settings"]["outputSelection"] = {
        "*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}
    }
    return solc_input


def run_slither(solc_input: dict[str, Any], solc: Path, root: Path) -> dict[str, Any]:
    """Runs slither on ``solc_input`` from ``root`` (where its source paths resolve); returns
    slither's JSON report."""
    with tempfile.TemporaryDirectory(prefix="slither-") as tmp:
        work = Path(tmp)
        (work / "input.json").write_text(json.dumps(solc_input))
        (work / "config.json").write_text("{}")
        # crytic-compile runs the executable named `solc` on PATH for standard JSON, whatever
        # --solc says (it reads only the version from that), so the chosen one goes first there.
        (work / "bin").mkdir()
        (work / "bin" / "solc").symlink_to(solc.resolve())
        env = {**os.environ, "PATH": f"{work / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        command = [
            sys.executable, "-m", "slither", str(work / "input.json"),
            "--compile-force-framework", "solc-json",
            "--solc", str(solc),
            "--json", str(work / "report.json"),
            "--config-file", str(work / "config.json"),
            "--triage-database", str(work / "triage.json"),
            "--fail-none", "--disable-color",
        ]  # fmt: skip
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        report_path = work / "report.json"
        report: dict[str, Any] = (
            json.loads(report_path.read_text()) if report_path.exists() else {"success": False}
        )
        if done.returncode != 0 or not report.get("success"):
            sys.stderr.write(done.stderr[-4000:])
            raise SystemExit(f"slither failed (exit {done.returncode}): {report.get('error')}")
        return report


def _files(finding: dict[str, Any]) -> list[str]:
    return [
        element["source_mapping"]["filename_relative"]
        for element in finding["elements"]
        if element.get("source_mapping")
    ]


def in_dependencies(finding: dict[str, Any]) -> bool:
    """Whether every source the finding points at lies in node_modules."""
    files = _files(finding)
    return bool(files) and all(f.startswith(DEPENDENCIES) for f in files)


def _location(finding: dict[str, Any]) -> str:
    return str(finding.get("first_markdown_element") or (_files(finding) or ["?"])[0])


def main() -> int:
    settings = get_settings()
    solc = find_solc(settings.solc_version, settings.solc_binary)
    report = run_slither(analysis_input(PROJECT_ROOT, CONTRACTS_DIR), solc, PROJECT_ROOT)
    findings = report.get("results", {}).get("detectors", [])
    ours = [f for f in findings if not in_dependencies(f)]
    ours.sort(key=lambda f: (IMPACT_ORDER.get(f["impact"], 9), f["check"], _location(f)))
    gating = [f for f in ours if f["impact"] in GATING_IMPACTS]

    print(f"slither on contracts/ with solc {settings.solc_version} ({solc.name})")
    for finding in ours:
        first_line = finding["description"].strip().splitlines()[0]
        print(f"  {finding['impact']:<14}{finding['check']:<26}{_location(finding)}")
        print(f"  {'':<14}{first_line}")
    print(f"  ({len(findings) - len(ours)} findings only in {DEPENDENCIES} not shown)")
    if gating:
        print(f"\nslither: {len(gating)} high or medium finding(s) in contracts/:\n")
        for finding in gating:
            print(finding["description"].strip() + "\n")
        print(
            "Fix each, or accept it with `// slither-disable-next-line "
            "DETECTOR` above the code and the reason beside it."
        )
        return 1
    print(f"slither: no high or medium finding ({len(ours)} lower ones listed above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
