"""A registry that keeps its records: ``creditreg up`` stopped and started again on the same state
directory goes on with the same chain, deployment and index; after a hard kill of everything the
index comes back consistent with the chain it finds; ``up --fresh`` starts a new registry on
purpose.

Real processes throughout: ``up`` in a subprocess with its own anvil, its state saved under
``<state_dir>/chain``; writes through the API with a bank's key from the secrets file ``up``
generated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from registry.credentials import read_api_credentials
from tests.api.test_api import registration
from tests.system.test_system import CREDITREG, Up, _running, needs_proc, running_up

FINANCINGS = "/v1/receivables/{}/financings"


def bank_key(state: Path, name: str = "Bank A") -> dict[str, str]:
    (credential,) = [c for c in read_api_credentials(state / "secrets.json") if c.name == name]
    return {"X-API-Key": credential.api_key}


def register(up: Up, state: Path, invoice: str, declaration: str) -> str:
    body = registration(
        invoice_number=invoice, declarations=[{"number": declaration, "value": 100_000}]
    )
    created = httpx.post(f"{up.api_url}/v1/receivables", json=body, headers=bank_key(state))
    assert created.status_code == 201, created.text
    return str(created.json()["receivable_id"])


def finance(up: Up, state: Path, receivable: str, amount: int) -> httpx.Response:
    return httpx.post(
        up.api_url + FINANCINGS.format(receivable),
        json={"amount": amount},
        headers=bank_key(state),
    )


def read(up: Up, state: Path, receivable: str) -> httpx.Response:
    return httpx.get(f"{up.api_url}/v1/receivables/{receivable}", headers=bank_key(state))


def status(up: Up) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{up.api_url}/v1/index/status").json()
    return answer


def caught_up(up: Up, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (now := status(up))["caught_up"] or now["indexed_block"] != now["head"]:
        assert time.monotonic() < deadline, f"the index did not catch up: {now}"
        time.sleep(0.1)
    return now


def creditreg(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """A ``creditreg`` command run to its end, its output captured."""
    return subprocess.run(
        [*CREDITREG, *arguments], env=env, capture_output=True, text=True, timeout=300
    )


def stopped(up: Up) -> str:
    up.process.send_signal(signal.SIGINT)
    output, _ = up.process.communicate(timeout=60)
    assert up.process.returncode == 0, output
    return output


def verified(up: Up) -> None:
    """``creditreg audit verify``: the live index, a fresh replay and the contracts agree."""
    env = up.env | {"CREDITREG_RPC_URL": f"http://127.0.0.1:{up.node_port}"}
    audit = creditreg(env, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def without(state: Path, receivable: str, up: Up) -> None:
    assert read(up, state, receivable).status_code == 404


@needs_proc
def test_records_survive_a_restart(tmp_path: Path) -> None:
    """Registered and financed, Ctrl-C, ``up`` again: the same receivable, as it was, the same
    deployment, the index where it was; and the bank writes on (its nonces continue)."""
    state = tmp_path / "state"
    with running_up(state) as first:
        receivable = register(first, state, "INV-KEPT-1", "310120260000200001")
        assert finance(first, state, receivable, 30_000).status_code == 201
        before = read(first, state, receivable).json()
        indexed = caught_up(first)["indexed_block"]
        manifest = (state / "deployment.json").read_text()
        stopped(first)

    with running_up(state) as second:
        after = read(second, state, receivable).json()
        assert {k: v for k, v in after.items() if k != "as_of_block"} == {
            k: v for k, v in before.items() if k != "as_of_block"
        }
        assert (state / "deployment.json").read_text() == manifest
        assert caught_up(second)["indexed_block"] >= indexed
        assert status(second)["reorgs"] == 0
        assert finance(second, state, receivable, 10_000).status_code == 201
        assert read(second, state, receivable).json()["outstanding"] == 40_000
        verified(second)
        stopped(second)


@needs_proc
def test_a_hard_kill_of_everything_comes_back_consistent(tmp_path: Path) -> None:
    """The node saves its chain every 10 s here. Just after a save, a second receivable is
    registered and indexed; then the node and ``up`` are both SIGKILLed (no save on exit). The
    next ``up`` finds a chain without the second receivable, behind its index: the index is rolled
    back to the chain's head before the API answers, never serving what the chain lost, and the
    audit finds index, replay and contracts equal. The lost write is the bank's to send again."""
    state = tmp_path / "state"
    saved = state / "chain" / "anvil-state.json"
    with running_up(state, env={"CREDITREG_NODE_STATE_INTERVAL": "10"}) as first:
        kept = register(first, state, "INV-KEPT-2", "310120260000200002")
        caught_up(first)
        saved_at = _next_save(saved)
        lost = register(first, state, "INV-LOST-2", "310120260000200003")
        caught_up(first)
        assert time.monotonic() - saved_at < 8, "too slow to land between two saves"
        for process in first.started:  # the node first: it must not save on its way out
            if _running(process):
                os.kill(process.pid, signal.SIGKILL)
        first.process.kill()
        first.process.communicate(timeout=60)

    with running_up(state) as second:
        assert status(second)["reorgs"] >= 1  # rolled back before the first answer
        without(state, lost, second)
        assert read(second, state, kept).json()["status"] == "registered"
        caught_up(second)
        verified(second)
        # Sent again, the lost registration is carried out on the chain as it now is.
        assert register(second, state, "INV-LOST-2", "310120260000200003") == lost
        stopped(second)


@needs_proc
def test_up_fresh_starts_a_new_registry(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_up(state) as first:
        receivable = register(first, state, "INV-FORGOTTEN", "310120260000200004")
        manifest = (state / "deployment.json").read_text()
        stopped(first)

    with running_up(state, "--fresh") as second:
        assert (state / "deployment.json").read_text() != manifest
        without(state, receivable, second)
        assert status(second)["indexed_block"] is None or status(second)["reorgs"] == 0
        stopped(second)


def _next_save(saved: Path, timeout: float = 30) -> float:
    """Waits until the node saves its chain again; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    first = saved.stat().st_mtime_ns if saved.exists() else 0
    while not saved.exists() or saved.stat().st_mtime_ns == first:
        assert time.monotonic() < deadline, "the node did not save its chain"
        time.sleep(0.02)
    return time.monotonic()


@needs_proc
def test_a_backup_restored_on_another_state_directory_goes_on(tmp_path: Path) -> None:
    """``creditreg backup`` of a stopped registry, ``restore`` into an empty state directory (as
    on another machine, with the keystore password carried apart): ``up`` there has the records.
    A restore never overwrites a registry."""
    state, moved, archive = tmp_path / "state", tmp_path / "moved", tmp_path / "registry.tar.gz"
    with running_up(state) as first:
        receivable = register(first, state, "INV-MOVED", "310120260000200005")
        assert finance(first, state, receivable, 20_000).status_code == 201
        stopped(first)

    env = first.env
    made = creditreg(env, "backup", str(archive))
    assert made.returncode == 0, made.stdout + made.stderr
    assert archive.stat().st_mode & 0o077 == 0
    into = env | {"CREDITREG_STATE_DIR": str(moved)}
    password = (state / "keystore-password").read_text().strip()
    restored = creditreg(into, "restore", str(archive))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert not (moved / "keystore-password").exists()
    again = creditreg(into, "restore", str(archive))
    assert again.returncode == 1
    assert "holds a registry already" in again.stdout

    with running_up(moved, env={"CREDITREG_KEYSTORE_PASSWORD": password}) as second:
        assert read(second, moved, receivable).json()["outstanding"] == 20_000
        assert status(second)["reorgs"] == 0
        verified(second)
        stopped(second)


@needs_proc
def test_a_bank_onboarded_between_runs_writes_after_the_restart(tmp_path: Path) -> None:
    """``creditreg onboard "Bank C"`` while ``up`` is stopped: the next ``up`` goes on with the
    same deployment, grants Bank C its role, and serves its API key; its registration is
    accepted, and its key is in the secrets file only (never in the command's output)."""
    state = tmp_path / "state"
    with running_up(state) as first:
        manifest = (state / "deployment.json").read_text()
        stopped(first)

    onboarded = creditreg(first.env, "onboard", "Bank C")
    assert onboarded.returncode == 0, onboarded.stdout + onboarded.stderr
    key = bank_key(state, "Bank C")
    assert key["X-API-Key"] not in onboarded.stdout + onboarded.stderr
    again = creditreg(first.env, "onboard", "Bank C")
    assert again.returncode == 1
    assert "is in the secrets already" in again.stdout

    with running_up(state) as second:
        assert (state / "deployment.json").read_text() == manifest
        body = registration(
            invoice_number="INV-BANK-C", declarations=[{"number": "310120260000200006", "value": 1}]
        )
        created = httpx.post(f"{second.api_url}/v1/receivables", json=body, headers=key)
        assert created.status_code == 201, created.text
        stopped(second)
