"""The dev secrets: every dev institution with its role; the admin's key in a file of its own that
the API never reads; every key in an encrypted keystore; the files of earlier versions (one file
with the admin key inside; keys in clear) split, completed and moved into keystores without losing
a key."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from registry.contracts.roles import Role
from registry.credentials import (
    ADMIN_NAME,
    DEV_INSTITUTIONS,
    AdminSecrets,
    ApiSecrets,
    DevSecrets,
    read_api_credentials,
)
from registry.errors import ConfigurationError
from registry.fingerprint import FingerprintKeyring
from registry.keystore import KEYRING_REFERENCE, signer_reference
from tests.keystores import TEST_PASSWORD, cheap_keystores

KEYSTORES = cheap_keystores()


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


def plain(secrets: DevSecrets) -> tuple[dict[str, Any], dict[str, Any]]:
    """The secrets as the two files held them before the keystores: every key in clear."""
    api = secrets.api_secrets()
    return {
        "fingerprint": secrets.keyring.to_mapping(),
        "institutions": [
            {"name": c.name, "role": c.role.value, "account": c.account, "api_key": c.api_key}
            for c in api.key_only
        ]
        + [
            {
                "name": i.name,
                "role": i.role.value,
                "private_key": i.signer.private_key_hex,
                "api_key": i.api_key,
            }
            for i in api.institutions
        ],
    }, {"deployer": secrets.deployer.private_key_hex}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private_keys(secrets: DevSecrets) -> list[str]:
    """Every signing key and fingerprint key, hex without 0x (as a file might hold them)."""
    keys = [i.signer.private_key_hex.removeprefix("0x") for i in secrets.institutions]
    fingerprint_keys = secrets.keyring.to_mapping()["keys"]
    assert isinstance(fingerprint_keys, dict)
    return keys + [str(key) for key in fingerprint_keys.values()]


def assert_in_keystores_only(secrets: DevSecrets, directory: Path) -> None:
    """No key of ``secrets`` in clear in any file below ``directory``; every keystore and file
    owner-only; each signing key in the keystore named by its address, which eth-account (the
    reference for the format) decrypts."""
    files = [path for path in directory.rglob("*") if path.is_file()]
    assert files
    for path in files:
        text = path.read_text().lower()
        for key in private_keys(secrets):
            assert key.lower() not in text, f"{path} holds a key in clear"
        assert mode(path) == 0o600, path
    assert mode(directory / "keystore") == 0o700
    for institution in secrets.institutions:
        keystore = json.loads((directory / signer_reference(institution.account)).read_text())
        assert keystore["version"] == 3
        assert keystore["crypto"]["kdf"] == "scrypt"
        key = Account.decrypt(keystore, TEST_PASSWORD)
        assert "0x" + bytes(key).hex() == institution.signer.private_key_hex


def keyring_of(directory: Path) -> FingerprintKeyring:
    return KEYSTORES.read_keyring(directory / KEYRING_REFERENCE)


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


def test_generated_banks_are_lenders_with_keys_of_their_own() -> None:
    secrets = DevSecrets.generate().with_lenders(3)
    more = secrets.with_lenders(2)

    banks = [i for i in more.institutions if i.name.startswith("Bank 0")]
    assert [b.name for b in banks] == [f"Bank {n:03d}" for n in range(1, 6)]
    assert {b.role for b in banks} == {Role.LENDER}
    assert more.institutions[: len(secrets.institutions)] == secrets.institutions
    assert len({i.account for i in more.institutions}) == len(more.institutions)
    assert len({i.api_key for i in more.institutions}) == len(more.institutions)


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

    secrets.save(path, admin_path, KEYSTORES)

    assert mode(path) == mode(admin_path) == 0o600
    assert_in_keystores_only(secrets, tmp_path)
    assert json.loads(admin_path.read_text()) == {
        "deployer": {
            "account": secrets.deployer.address,
            "keystore": f"keystore/{secrets.deployer.address}.json",
        }
    }
    assert json.loads(path.read_text())["fingerprint"] == {"keystore": KEYRING_REFERENCE}
    loaded = DevSecrets.load(path, admin_path, KEYSTORES)
    assert [(i.name, i.role, i.signer.address, i.api_key) for i in loaded.institutions] == [
        (i.name, i.role, i.signer.address, i.api_key) for i in secrets.institutions
    ]
    assert loaded.institution(ADMIN_NAME).signer is loaded.deployer
    assert loaded.keyring.to_mapping() == secrets.keyring.to_mapping()
    assert ApiSecrets.load(path, KEYSTORES).to_json() == secrets.api_secrets().to_json()
    admin = AdminSecrets.load(admin_path, KEYSTORES).deployer
    assert admin.private_key_hex == secrets.deployer.private_key_hex


def test_the_api_keys_are_read_without_the_password(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    secrets = DevSecrets.generate()
    secrets.api_secrets().save(path, KEYSTORES)
    (tmp_path / "keystore").rename(tmp_path / "elsewhere")

    credentials = read_api_credentials(path)

    assert [(c.name, c.role, c.account, c.api_key) for c in credentials] == [
        (i.name, i.role, i.account, i.api_key) for i in secrets.institutions
    ]


def test_an_older_secrets_file_is_split_and_gains_the_institutions_it_lacks(
    tmp_path: Path,
) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    old = unsplit(DevSecrets.generate())
    # What the file held before the registrar, customs, court and operator existed.
    old["institutions"] = old["institutions"][:3]
    path.write_text(json.dumps(old))

    completed = DevSecrets.load_or_generate(path, admin_path, KEYSTORES)

    assert [i.name for i in completed.institutions] == [ADMIN_NAME] + [
        n for n, _ in DEV_INSTITUTIONS
    ]
    assert completed.deployer.private_key_hex == old["deployer"]
    # The admin's key has moved out of the file the API reads, into a keystore of its own.
    admin = json.loads(admin_path.read_text())["deployer"]
    assert admin["account"] == completed.deployer.address
    assert AdminSecrets.load(admin_path, KEYSTORES).deployer.private_key_hex == old["deployer"]
    assert mode(path) == mode(admin_path) == 0o600
    # And no key is left in clear anywhere: every one is in a keystore.
    assert_in_keystores_only(completed, tmp_path)
    saved = json.loads(path.read_text())
    assert keyring_of(tmp_path).to_mapping() == old["fingerprint"]
    admin_entry, *kept = saved["institutions"][:3]
    assert admin_entry == {
        "name": ADMIN_NAME,
        "role": "admin",
        "account": completed.deployer.address,
        "api_key": old["institutions"][0]["api_key"],
    }
    assert [(k["name"], k["role"], k["api_key"]) for k in kept] == [
        (o["name"], o["role"], o["api_key"]) for o in old["institutions"][1:3]
    ]
    assert [KEYSTORES.read_signer(tmp_path / k["keystore"]).private_key_hex for k in kept] == [
        o["private_key"] for o in old["institutions"][1:3]
    ]
    again = DevSecrets.load_or_generate(path, admin_path, KEYSTORES)
    assert [i.api_key for i in again.institutions] == [i.api_key for i in completed.institutions]
    assert json.loads(path.read_text()) == saved


def test_keys_in_clear_move_into_keystores(tmp_path: Path) -> None:
    """The two files as the version before the keystores wrote them: the institutions' keys and
    the fingerprint keys in the API's file, the deployer's in the admin's, all in clear."""
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    secrets = DevSecrets.generate()
    old_api, old_admin = plain(secrets)
    path.write_text(json.dumps(old_api))
    admin_path.write_text(json.dumps(old_admin))

    migrated = DevSecrets.load_or_generate(path, admin_path, KEYSTORES)

    assert [
        (i.name, i.role, i.signer.private_key_hex, i.api_key) for i in migrated.institutions
    ] == [(i.name, i.role, i.signer.private_key_hex, i.api_key) for i in secrets.institutions]
    assert migrated.keyring.to_mapping() == secrets.keyring.to_mapping()
    assert_in_keystores_only(secrets, tmp_path)
    # The plain key fields are gone; what else the files said stays.
    saved = json.loads(path.read_text())
    assert saved == secrets.api_secrets().to_json()
    assert not any("private_key" in entry for entry in saved["institutions"])
    assert "keys" not in saved["fingerprint"]
    assert json.loads(admin_path.read_text()) == secrets.admin_secrets().to_json()
    # Migrated once: the next start reads the keystores and rewrites nothing.
    written = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    again = DevSecrets.load_or_generate(path, admin_path, KEYSTORES)
    assert again.api_secrets().to_json() == saved
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == written


def test_the_api_refuses_keys_in_clear(tmp_path: Path) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    old_api, old_admin = plain(DevSecrets.generate())
    path.write_text(json.dumps(old_api))
    admin_path.write_text(json.dumps(old_admin))

    with pytest.raises(ConfigurationError, match=r"in clear; run `creditreg deploy`"):
        ApiSecrets.load(path, KEYSTORES)
    with pytest.raises(ConfigurationError, match=r"in clear; run `creditreg deploy`"):
        AdminSecrets.load(admin_path, KEYSTORES)


def test_the_api_refuses_a_file_that_still_holds_the_admin_key(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(unsplit(DevSecrets.generate())))
    with pytest.raises(ConfigurationError, match="creditreg deploy"):
        ApiSecrets.load(path, KEYSTORES)


def test_one_file_without_the_other_is_refused(tmp_path: Path) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    DevSecrets.generate().save(path, admin_path, KEYSTORES)

    path.rename(tmp_path / "elsewhere.json")
    with pytest.raises(ConfigurationError, match="does not"):
        DevSecrets.load_or_generate(path, admin_path, KEYSTORES)

    (tmp_path / "elsewhere.json").rename(path)
    admin_path.unlink()
    with pytest.raises(ConfigurationError, match="admin secrets file"):
        DevSecrets.load_or_generate(path, admin_path, KEYSTORES)


def test_a_migration_never_replaces_another_admin_key(tmp_path: Path) -> None:
    path, admin_path = tmp_path / "secrets.json", tmp_path / "admin-secrets.json"
    path.write_text(json.dumps(unsplit(DevSecrets.generate())))
    DevSecrets.generate().admin_secrets().save(admin_path, KEYSTORES)
    kept = admin_path.read_text()

    with pytest.raises(ConfigurationError, match="different admin keys"):
        DevSecrets.load_or_generate(path, admin_path, KEYSTORES)
    assert admin_path.read_text() == kept
