"""An operator upgrades a running registry: ``creditreg upgrade`` while ``creditreg up`` serves,
with the next version of the ledger compiled as a release would ship it. Every record stays, the
running API's index follows without a restart, the bank writes on under the new code, the audit
agrees, and the next ``up`` goes on from the manifest the upgrade wrote."""

from __future__ import annotations

import json
from pathlib import Path

from registry.artifacts.compiler import write_artifacts
from registry.contracts.deploy import Deployment
from tests.contracts.test_upgrades import compiled_next_versions
from tests.system.test_restart import (
    caught_up,
    creditreg,
    finance,
    read,
    register,
    status,
    stopped,
    verified,
)
from tests.system.test_system import running_up


def test_an_upgrade_while_up_serves_keeps_every_record(tmp_path: Path) -> None:
    state = tmp_path / "state"
    release = tmp_path / "release"
    # The next release's ledger, compiled under the name it is deployed as.
    write_artifacts({"ReceivableLedger": compiled_next_versions()["ReceivableLedgerV2"]}, release)
    with running_up(state) as up:
        receivable = register(up, state, "INV-UPGRADE-1", "310120260000300001")
        assert finance(up, state, receivable, 30_000).status_code == 201
        before = read(up, state, receivable).json()
        manifest = Deployment.load(state / "deployment.json")
        env = up.env | {"CREDITREG_RPC_URL": f"http://127.0.0.1:{up.node_port}"}

        upgraded = creditreg(env, "upgrade", "ReceivableLedger", "--artifacts", str(release))
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        assert "ReceivableLedger upgraded" in upgraded.stdout
        after_upgrade = Deployment.load(state / "deployment.json")
        ledger = after_upgrade.contracts["ReceivableLedger"]
        assert ledger.address == manifest.contracts["ReceivableLedger"].address
        assert ledger.implementation != manifest.contracts["ReceivableLedger"].implementation
        # The same code again is nothing to do; the other contracts run this release's already.
        again = creditreg(env, "upgrade", "--artifacts", str(release), "ReceivableLedger")
        assert "ReceivableLedger already runs this code" in again.stdout, again.stdout
        others = creditreg(env, "upgrade", "PledgeRegistry", "ConsentRegistry")
        assert others.stdout.count("already runs this code") == 2, others.stdout

        caught_up(up)
        after = read(up, state, receivable).json()
        assert {k: v for k, v in after.items() if k != "as_of_block"} == {
            k: v for k, v in before.items() if k != "as_of_block"
        }
        assert finance(up, state, receivable, 10_000).status_code == 201
        assert read(up, state, receivable).json()["outstanding"] == 40_000
        verified(up)
        stopped(up)

    with running_up(state) as second:
        assert json.loads((state / "deployment.json").read_text()) == after_upgrade.to_json()
        assert read(second, state, receivable).json()["outstanding"] == 40_000
        assert finance(second, state, receivable, 5_000).status_code == 201
        assert status(second)["reorgs"] == 0
        verified(second)
        stopped(second)
