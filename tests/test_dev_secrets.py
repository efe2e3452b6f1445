"""The dev secrets: every dev institution with its role; the admin's key in a file of its own that
the API never reads; an older secrets file (one file, admin key inside) split and completed
without losing a key."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from registry.contracts.roles import Role
from registry.credentials import ADMIN_NAME, DEV_INSTITUTIONS, AdminSecrets, ApiSecrets, DevSecrets
from registry.errors import ConfigurationError


def unsplit(secrets: DevSecrets) -> dict[str, Any]:
    """The secrets as one file held them before the admin's key moved out."""
    return {
        "fingerprint": secrets.keyring.to_mapping(),
        "deployer": secrets.deployer.private_key_hex,
        "institutions": [
            {
                "name": i.name,
                "role": i.role.value,
                "private_key": i.signer.private_key_hex,
                "api_key": i.api_key,
            }
            for i in secrets.institutions
        ],
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_secrets_hold_every_dev_institution() -> None:
    secrets = DevSecrets.generate()
    assert [(i.name, i.role) for i in secrets.institutions] == [
        (ADMIN_NAME, Role.ADMIN),
        *DEV_INSTITUTIONS,
    ]
    assert secrets.institution(ADMIN_NAME).signer is secrets.deployer
    accounts = [i.signer.address for i in secrets.institutions]
    assert len(set(accounts)) == len(accounts)
    assert {i.name for i in secrets.with_role(Role.LENDER)} == {"Bank A", "Bank B"}


def test_the_api_part_holds_every_api_key_and_no_admin_signing_key() -> None:
    secrets = DevSecrets.generate()
    api = secrets.api_secrets()

    assert [i.name for i in api.institutions] == [name for name, _ in DEV_INSTITUTIONS]
    (admin,) = api.key_only
    assert (admin.name, admin.role, admin.account) == (
        ADMIN_NAME,
        Role.ADMIN,
        secrets.deployer.address,
    )
    assert {c.api_key for c in api.credentials} == {i.api_key for i in secrets.institutions}
    assert secrets.deployer.private_key_hex not in json.dumps(api.to_json())
    with pytest.raises(ConfigurationError, match="admin"):
        ApiSecrets(api.keyring, (secrets.institution(ADMIN_NAME),))


def test_the_two_files_round_trip(tmp_path: Path) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    secrets = DevSecrets.generate()

    secrets.save(path, admin_path)

    assert mode(path) == mode(admin_path) == 0o600
    assert secrets.deployer.private_key_hex not in path.read_text()
    assert json.loads(admin_path.read_text()) == {"deployer": secrets.deployer.private_key_hex}
    loaded = DevSecrets.load(path, admin_path)
    assert [(i.name, i.role, i.signer.address, i.api_key) for i in loaded.institutions] == [
        (i.name, i.role, i.signer.address, i.api_key) for i in secrets.institutions
    ]
    assert loaded.institution(ADMIN_NAME).signer is loaded.deployer
    assert ApiSecrets.load(path).to_json() == secrets.api_secrets().to_json()
    assert AdminSecrets.load(admin_path).deployer.address == secrets.deployer.address


def test_an_older_secrets_file_is_split_and_gains_the_institutions_it_lacks(
    tmp_path: Path,
) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    old = unsplit(DevSecrets.generate())
    # What the file held before the registrar, customs, court and operator existed.
    old["institutions"] = old["institutions"][:3]
    path.write_text(json.dumps(old))

    completed = DevSecrets.load_or_generate(path, admin_path)

    assert [i.name for i in completed.institutions] == [ADMIN_NAME] + [
        n for n, _ in DEV_INSTITUTIONS
    ]
    assert completed.deployer.private_key_hex == old["deployer"]
    # The admin's key has moved out of the file the API reads, into a file of its own.
    assert json.loads(admin_path.read_text()) == {"deployer": old["deployer"]}
    assert mode(path) == mode(admin_path) == 0o600
    saved = json.loads(path.read_text())
    assert old["deployer"] not in path.read_text()
    assert saved["fingerprint"] == old["fingerprint"]
    admin_entry, *kept = saved["institutions"][:3]
    assert admin_entry == {
        "name": ADMIN_NAME,
        "role": "admin",
        "account": completed.deployer.address,
        "api_key": old["institutions"][0]["api_key"],
    }
    assert kept == old["institutions"][1:3]
    again = DevSecrets.load_or_generate(path, admin_path)
    assert [i.api_key for i in again.institutions] == [i.api_key for i in completed.institutions]
    assert json.loads(path.read_text()) == saved


def test_the_api_refuses_a_file_that_still_holds_the_admin_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(unsplit(DevSecrets.generate())))
    with pytest.raises(ConfigurationError, match="creditreg deploy"):
        ApiSecrets.load(path)


def test_one_file_without_the_other_is_refused(tmp_path: Path) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    DevSecrets.generate().save(path, admin_path)

    path.rename(tmp_path / "elsewhere.json")
    with pytest.raises(ConfigurationError, match="does not"):
        DevSecrets.load_or_generate(path, admin_path)

    (tmp_path / "elsewhere.json").rename(path)
    admin_path.unlink()
    with pytest.raises(ConfigurationError, match="admin secrets file"):
        DevSecrets.load_or_generate(path, admin_path)


def test_a_migration_never_replaces_another_admin_key(tmp_path: Path) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    path.write_text(json.dumps(unsplit(DevSecrets.generate())))
    DevSecrets.generate().admin_secrets().save(admin_path)
    kept = admin_path.read_text()

    with pytest.raises(ConfigurationError, match="different admin keys"):
        DevSecrets.load_or_generate(path, admin_path)
    assert admin_path.read_text() == kept
