"""The committed artifacts are exactly what the pinned compiler makes of contracts/."""

from __future__ import annotations

import json

from registry.chain.artifacts import ARTIFACTS_DIR
from registry.chain.compiler import compile_contracts, find_solc
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
