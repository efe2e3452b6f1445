"""The dev secrets: every dev institution with its role, and an older secrets file completed
without losing a key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from registry.credentials import ADMIN_NAME, DEV_INSTITUTIONS, DevSecrets, Role


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


def test_an_older_secrets_file_gains_the_institutions_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    old = DevSecrets.generate().to_json()
    # What the file held before the registrar, customs, court and operator existed.
    old["institutions"] = old["institutions"][:3]
    path.write_text(json.dumps(old))

    completed = DevSecrets.load_or_generate(path)

    assert [i.name for i in completed.institutions] == [ADMIN_NAME] + [
        n for n, _ in DEV_INSTITUTIONS
    ]
    saved = json.loads(path.read_text())
    assert saved["deployer"] == old["deployer"]
    assert saved["fingerprint"] == old["fingerprint"]
    assert saved["institutions"][:3] == old["institutions"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = DevSecrets.load_or_generate(path)
    assert [i.api_key for i in again.institutions] == [i.api_key for i in completed.institutions]
    assert json.loads(path.read_text()) == saved
