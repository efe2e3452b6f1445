"""The committed artifacts are exactly what the pinned compiler makes of contracts/."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from registry.artifacts import ARTIFACTS_DIR
from registry.artifacts.compiler import compile_contracts, find_solc
from registry.settings import Settings


def test_committed_artifacts_match_a_fresh_compile() -> None:
    settings = Settings()
    fresh = compile_contracts(
        find_solc(settings.solc_version, settings.solc_binary), settings.solc_version
    )

    committed = {path.stem: json.loads(path.read_text()) for path in ARTIFACTS_DIR.glob("*.json")}
    assert set(committed) == set(fresh), "run `make artifacts` and commit the result"
    for name, artifact in fresh.items():
        assert committed[name] == artifact.to_json(), f"{name} is stale: run `make artifacts`"


def test_artifacts_target_shanghai_with_the_optimizer() -> None:
    for path in ARTIFACTS_DIR.glob("*.json"):
        compiler = json.loads(path.read_text())["compiler"]
        assert compiler["evmVersion"] == "shanghai"
        assert compiler["optimizerRuns"] > 0


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_find_solc_skips_the_solc_select_shim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # solc-select (slither's dependency) puts a Python `solc` in the venv's bin that downloads a
    # compiler when run; offline it stalls. This one leaves a mark if it is ever run.
    ran = tmp_path / "shim-ran"
    _executable(
        tmp_path / "venv-bin" / "solc",
        f"#!{sys.executable}\nimport pathlib, sys\npathlib.Path({str(ran)!r}).touch()\n"
        "sys.exit(1)\nfrom solc_select.__main__ import solc\n",
    )
    native = _executable(
        tmp_path / "native-bin" / "solc",
        "#!/bin/sh\necho 'solc, the solidity compiler commandline interface'\n"
        "echo 'Version: 0.8.28+commit.7893614a.Linux.g++'\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'venv-bin'}:{tmp_path / 'native-bin'}")

    assert find_solc("0.8.28") == native
    assert not ran.exists(), "find_solc ran solc-select's shim"
