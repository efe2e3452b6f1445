"""Keystores: the standard format, one password from where the settings say, a clear error (never
the password) when it is wrong or missing, and the scrypt cost the settings choose."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from eth_keyfile.keyfile import decode_keyfile_json
from pydantic import SecretStr

from registry.chain.client import Signer
from registry.credentials import ApiSecrets, DevSecrets
from registry.errors import ConfigurationError
from registry.fingerprint import FingerprintKeyring
from registry.keystore import (
    DEV_SCRYPT_N,
    KEYRING_REFERENCE,
    SCRYPT_N,
    KeystorePassword,
    Keystores,
    _encrypt_v3,
    signer_reference,
)
from registry.settings import Settings
from tests.conftest import Stack
from tests.keystores import TEST_PASSWORD, TEST_SCRYPT_N, cheap_keystores

WRONG = "not the password"


def settings(tmp_path: Path, **fields: object) -> Settings:
    return Settings(state_dir=tmp_path, **fields)  # type: ignore[arg-type]


# --- the password -------------------------------------------------------------------------------


def test_the_password_comes_from_the_variable_before_the_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "keystore_password"
    secret_file.write_text("from the file\n")  # as `echo` and Docker secrets leave it

    both = settings(
        tmp_path,
        keystore_password=SecretStr("from the variable"),
        keystore_password_file=secret_file,
    )
    from_file = settings(tmp_path, keystore_password_file=secret_file)

    variable = KeystorePassword.from_settings(both)
    assert (variable.secret.get_secret_value(), variable.source) == (
        "from the variable",
        "CREDITREG_KEYSTORE_PASSWORD",
    )
    filed = KeystorePassword.from_settings(from_file)
    assert filed.secret.get_secret_value() == "from the file"
    assert filed.source == f"CREDITREG_KEYSTORE_PASSWORD_FILE ({secret_file})"
    assert not (tmp_path / "keystore-password").exists()
    assert "from the" not in repr(variable) + repr(both) + str(both)


def test_without_a_password_only_the_dev_setup_generates_one(tmp_path: Path) -> None:
    unset = settings(tmp_path)
    with pytest.raises(ConfigurationError) as missing:
        KeystorePassword.from_settings(unset)
    assert "CREDITREG_KEYSTORE_PASSWORD or CREDITREG_KEYSTORE_PASSWORD_FILE" in str(missing.value)

    generated = KeystorePassword.from_settings(unset, generate=True)

    path = unset.dev_keystore_password_path
    assert generated.is_dev
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(generated.secret.get_secret_value()) >= 32
    # Kept: the next start, with or without the dev setup, unlocks with the same one.
    again = KeystorePassword.from_settings(unset)
    assert again.secret.get_secret_value() == generated.secret.get_secret_value()
    assert path.read_text() == generated.secret.get_secret_value() + "\n"


def test_an_unusable_password_file_is_named_without_its_content(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigurationError, match="cannot read the keystore password file"):
        KeystorePassword.from_settings(settings(tmp_path, keystore_password_file=missing))

    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigurationError, match=r"from CREDITREG_KEYSTORE_PASSWORD_FILE .* empty"):
        KeystorePassword.from_settings(settings(tmp_path, keystore_password_file=empty))


# --- wrong passwords ----------------------------------------------------------------------------


def test_a_wrong_password_names_its_setting_and_never_the_password(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    DevSecrets.generate().api_secrets().save(path, cheap_keystores())
    wrong = Keystores.from_settings(settings(tmp_path, keystore_password=SecretStr(WRONG)))

    with pytest.raises(ConfigurationError) as refused:
        ApiSecrets.load(path, wrong)

    message = str(refused.value)
    assert message.startswith("the keystore password from CREDITREG_KEYSTORE_PASSWORD does not")
    assert WRONG not in message
    assert TEST_PASSWORD not in message
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__


def test_the_fingerprint_keys_need_the_password_too(tmp_path: Path) -> None:
    keyring = FingerprintKeyring.generate().rotated()
    path = tmp_path / KEYRING_REFERENCE
    cheap_keystores().write_keyring(path, keyring)

    assert cheap_keystores().read_keyring(path).to_mapping() == keyring.to_mapping()
    with pytest.raises(ConfigurationError, match="the keystore password from the tests does not"):
        cheap_keystores(WRONG).read_keyring(path)
    keys = keyring.to_mapping()["keys"]
    assert isinstance(keys, dict)
    for key in keys.values():
        assert str(key) not in path.read_text()


def test_a_keystore_for_another_account_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    secrets = DevSecrets.generate().api_secrets()
    secrets.save(path, cheap_keystores())
    bank_a, bank_b = (secrets.institution(name).account for name in ("Bank A", "Bank B"))
    a, b = (tmp_path / signer_reference(account) for account in (bank_a, bank_b))
    a.write_bytes(b.read_bytes())

    with pytest.raises(ConfigurationError, match=f"holds the key of {bank_b}, not of {bank_a}"):
        ApiSecrets.load(path, cheap_keystores())


# --- the format ---------------------------------------------------------------------------------


def test_a_keystore_made_by_other_tools_is_read_where_the_file_points(tmp_path: Path) -> None:
    """A bank brings the keystore its own tools made (here eth-account, named as geth names
    them); the secrets file points at it."""
    path = tmp_path / "secrets.json"
    secrets = DevSecrets.generate().api_secrets()
    secrets.save(path, cheap_keystores())
    own = Signer.generate()
    made = Account.encrypt(own.private_key_hex, TEST_PASSWORD, kdf="pbkdf2", iterations=2)
    geth_name = f"UTC--2026-01-01T00-00-00.000Z--{own.address[2:].lower()}"
    (tmp_path / "bank-keys").mkdir()
    (tmp_path / "bank-keys" / geth_name).write_text(json.dumps(made))
    document = json.loads(path.read_text())
    (entry,) = [e for e in document["institutions"] if e["name"] == "Bank A"]
    entry.update(account=own.address, keystore=f"bank-keys/{geth_name}")
    path.write_text(json.dumps(document))

    loaded = ApiSecrets.load(path, cheap_keystores())

    assert loaded.institution("Bank A").signer.private_key_hex == own.private_key_hex


def test_our_encryption_agrees_with_eth_account() -> None:
    """The fingerprint keys' keystore is our one piece of the cryptography: the same 32-byte key
    encrypted by eth-account and by us decrypts alike through both, and the reference decoder
    reads what we write."""
    key = bytes(Account.create().key)
    ours = _encrypt_v3(key, TEST_PASSWORD.encode(), TEST_SCRYPT_N)
    theirs = Account.encrypt(key, TEST_PASSWORD, kdf="scrypt", iterations=TEST_SCRYPT_N)

    assert bytes(Account.decrypt(ours, TEST_PASSWORD)) == key
    assert decode_keyfile_json(theirs, TEST_PASSWORD.encode()) == key
    assert set(ours["crypto"]) == set(theirs["crypto"])
    assert ours["crypto"]["kdfparams"].keys() == theirs["crypto"]["kdfparams"].keys()
    long = os.urandom(200)
    assert decode_keyfile_json(_encrypt_v3(long, b"pw", 2), b"pw") == long


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, DEV_SCRYPT_N),
        ({"keystore_password": SecretStr("configured")}, SCRYPT_N),
        ({"keystore_password": SecretStr("configured"), "keystore_scrypt_n": 2**10}, 2**10),
        ({"keystore_scrypt_n": 2**6}, 2**6),
    ],
)
def test_the_cost_is_strong_unless_the_password_lies_beside_the_keys(
    tmp_path: Path, fields: dict[str, object], expected: int
) -> None:
    keystores = Keystores.from_settings(settings(tmp_path, **fields), generate_password=True)
    assert keystores.scrypt_n == expected
    if expected > 2**10:
        return  # writing at the strong cost takes a while; the setting's path is the same
    path = tmp_path / "key.json"
    keystores.write_signer(path, Signer.generate())
    assert json.loads(path.read_text())["crypto"]["kdfparams"]["n"] == expected


def test_the_cost_must_be_a_power_of_two(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CREDITREG_KEYSTORE_SCRYPT_N"):
        Keystores.from_settings(settings(tmp_path, keystore_scrypt_n=1000), generate_password=True)


# --- the command line ---------------------------------------------------------------------------


def test_serve_with_a_wrong_or_missing_password_says_so_plainly(
    stack: Stack, sqlite_url: str, tmp_path: Path
) -> None:
    stack.deployment.save(tmp_path / "deployment.json")
    stack.secrets.api_secrets().save(tmp_path / "secrets.json", cheap_keystores())
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("CREDITREG_KEYSTORE")
    }
    env |= {
        "CREDITREG_STATE_DIR": str(tmp_path),
        "CREDITREG_RPC_URL": stack.node.url,
        "CREDITREG_DATABASE_URL": sqlite_url,
    }

    def serve(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "creditreg", "serve"],
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=120,
        )

    wrong = serve(CREDITREG_KEYSTORE_PASSWORD=WRONG)
    missing = serve()

    assert wrong.returncode == missing.returncode == 1
    # Rich wraps the message at the terminal's width.
    said = [" ".join(run.stdout.split()) for run in (wrong, missing)]
    assert "the keystore password from CREDITREG_KEYSTORE_PASSWORD does not unlock" in said[0]
    assert "no keystore password: set CREDITREG_KEYSTORE_PASSWORD or" in said[1]
    for run in (wrong, missing):
        output = run.stdout + run.stderr
        assert "Traceback" not in output
        assert WRONG not in output
        assert TEST_PASSWORD not in output
