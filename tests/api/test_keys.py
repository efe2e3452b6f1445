"""API keys end when they should: revoked at run time by ``creditreg keys revoke`` (the next
request is refused, no restart), and gone with their institution from the secrets file at the next
start. A revoked key stays revoked when the API starts again from a file that still holds it.

On SQLite and PostgreSQL; the command runs as an operator runs it, in a process of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.services import Services
from registry.api_keys import REMOVED, REPLACED, list_api_keys, lookup, revoke_api_keys
from registry.credentials import ApiSecrets, Institution, generate_api_key
from registry.errors import InvalidInput
from registry.settings import Settings
from tests.api.test_api import assert_problem, check_body, key
from tests.conftest import Stack
from tests.keystores import KEYSTORE_SETTINGS, cheap_keystores

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CREDITREG = [sys.executable, "-m", "creditreg"]


def creditreg(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CREDITREG_DATABASE_URL": database_url,
        "CREDITREG_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "250",
    }
    return subprocess.run(
        [*CREDITREG, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def check(client: TestClient, stack: Stack, bank: str) -> int:
    response = client.post("/v1/receivables/check", json=check_body(), headers=key(stack, bank))
    if response.status_code == 401:
        assert_problem(response, 401, "unauthenticated")
    return response.status_code


@pytest.fixture
def client(stack: Stack, engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    services = Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    with TestClient(create_app(Settings(state_dir=tmp_path), services)) as test_client:
        yield test_client


def test_a_key_revoked_at_run_time_is_refused_at_the_next_request(
    client: TestClient, stack: Stack, engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    assert check(client, stack, "Bank A") == 200

    revoked = creditreg(database_url, tmp_path, "keys", "revoke", "Bank A", "--reason", "leaked")

    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert "revoked 1 key(s) of Bank A" in revoked.stdout
    # The same running API, no restart: refused at once; the other bank is not affected.
    assert check(client, stack, "Bank A") == 401
    assert check(client, stack, "Bank B") == 200

    listed = creditreg(database_url, tmp_path, "keys", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    (bank_a_row,) = [line for line in listed.stdout.splitlines() if "Bank A" in line]
    assert "leaked" in bank_a_row
    for secret in (i.api_key for i in stack.secrets.institutions):
        assert secret not in listed.stdout + revoked.stdout

    # A restart stores the secrets file's keys again; the file still holds Bank A's key, which
    # stays revoked.
    Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    assert lookup(engine, stack.bank_a.api_key) is None
    assert lookup(engine, stack.bank_b.api_key) is not None


def test_revoking_what_is_not_there_fails(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    result = creditreg(database_url, tmp_path, "keys", "revoke", "No such bank")
    assert result.returncode == 1
    assert "no working API key" in result.stdout


def test_one_key_is_revoked_by_its_id(stack: Stack, engine: sa.Engine) -> None:
    Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    (bank_a,) = [k for k in list_api_keys(engine) if k.institution == "Bank A"]

    another = ("1" if bank_a.key_id.startswith("0") else "0") + bank_a.key_id[1:]
    assert revoke_api_keys(engine, "Bank A", key_id=another) == []
    assert revoke_api_keys(engine, "Bank A", key_id=bank_a.key_id) == [bank_a.key_id]
    assert revoke_api_keys(engine, "Bank A", key_id=bank_a.key_id) == []
    assert lookup(engine, stack.bank_a.api_key) is None
    with pytest.raises(InvalidInput, match="hex"):
        revoke_api_keys(engine, "Bank A", key_id="%")


def _serve_settings(stack: Stack, database_url: str, tmp_path: Path) -> Settings:
    stack.deployment.save(tmp_path / "deployment.json")
    return Settings(
        state_dir=tmp_path, rpc_url=stack.node.url, database_url=database_url, **KEYSTORE_SETTINGS
    )


def _without(secrets: ApiSecrets, name: str) -> ApiSecrets:
    kept = tuple(i for i in secrets.institutions if i.name != name)
    return ApiSecrets(secrets.keyring, kept, secrets.key_only)


def test_an_institution_removed_from_the_secrets_file_loses_access_at_the_next_start(
    stack: Stack, engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    settings = _serve_settings(stack, database_url, tmp_path)
    secrets = stack.secrets.api_secrets()
    secrets.save(settings.resolved_secrets_path, cheap_keystores())
    with TestClient(create_app(settings)) as served:
        assert check(served, stack, "Bank B") == 200

    _without(secrets, "Bank B").save(settings.resolved_secrets_path, cheap_keystores())

    with TestClient(create_app(settings)) as restarted:
        assert check(restarted, stack, "Bank B") == 401
        assert check(restarted, stack, "Bank A") == 200
    (bank_b,) = [k for k in list_api_keys(engine) if k.institution == "Bank B"]
    assert (bank_b.revoked_at is not None, bank_b.revoked_reason) == (True, REMOVED)


def test_a_key_replaced_in_the_secrets_file_stops_working_at_the_next_start(
    stack: Stack, engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    settings = _serve_settings(stack, database_url, tmp_path)
    secrets = stack.secrets.api_secrets()
    secrets.save(settings.resolved_secrets_path, cheap_keystores())
    with TestClient(create_app(settings)) as served:
        assert check(served, stack, "Bank A") == 200

    old = stack.bank_a
    new = Institution(old.name, old.role, old.signer, generate_api_key())
    replaced = ApiSecrets(
        secrets.keyring,
        tuple(new if i.name == old.name else i for i in secrets.institutions),
        secrets.key_only,
    )
    replaced.save(settings.resolved_secrets_path, cheap_keystores())

    with TestClient(create_app(settings)) as restarted:
        assert check(restarted, stack, "Bank A") == 401
        fresh = restarted.post(
            "/v1/receivables/check", json=check_body(), headers={"X-API-Key": new.api_key}
        )
        assert fresh.status_code == 200
    states = {
        (k.revoked_at is None, k.revoked_reason)
        for k in list_api_keys(engine)
        if k.institution == "Bank A"
    }
    assert states == {(True, None), (False, REPLACED)}
