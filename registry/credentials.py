"""Institutions, their signing keys and their API keys.

The API signs transactions for the institutions it serves, so it holds their keys; clients prove who
they are with an API key, which the database stores only as a SHA-256 hash. On the embedded dev
stack all of this is generated once into a secrets file (mode 0600) below the state directory:
fingerprint keys, the deployer (admin) key, and the dev institutions (:data:`DEV_INSTITUTIONS`: two
banks, the registry center's clerk and automated accounts, customs, a court, the API operator)
with their keys and API keys.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.chain.client import Signer
from registry.errors import ConfigurationError
from registry.fingerprint import FingerprintKeyring

__all__ = [
    "ADMIN_NAME",
    "DEV_INSTITUTIONS",
    "DevSecrets",
    "Institution",
    "Role",
    "generate_api_key",
    "hash_api_key",
]

API_KEY_PREFIX = "crk_"


class Role(enum.StrEnum):
    """What an institution does: what its API key may do, and the chain role it is granted
    (``lender``: LENDER_ROLE, ``registrar``: REGISTRAR_ROLE, ``verifier``: VERIFIER_ROLE,
    ``enforcer``: ENFORCER_ROLE, ``operator``: OPERATOR_ROLE, ``admin``: DEFAULT_ADMIN_ROLE)."""

    LENDER = "lender"
    REGISTRAR = "registrar"
    VERIFIER = "verifier"
    ENFORCER = "enforcer"
    OPERATOR = "operator"
    ADMIN = "admin"


DEV_INSTITUTIONS: tuple[tuple[str, Role], ...] = (
    ("Bank A", Role.LENDER),
    ("Bank B", Role.LENDER),
    # The registration center's clerk, and the account that decides pledges when every rule
    # passes ("zero human intervention"). Both are registrars on chain; two accounts, so that the
    # record shows which decisions no human took.
    ("Registry center", Role.REGISTRAR),
    ("Registry center (automated)", Role.REGISTRAR),
    ("Customs", Role.VERIFIER),
    ("Court", Role.ENFORCER),
    # The API itself: anchors the roots of its credit-report read log.
    ("API operator", Role.OPERATOR),
)
"""The institutions a dev stack has besides the consortium admin (the deployer)."""

ADMIN_NAME = "Consortium admin"


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True, repr=False)
class Institution:
    """An institution the API acts for: its name, role, chain signer and API key."""

    name: str
    role: Role
    signer: Signer
    api_key: str

    def __repr__(self) -> str:
        return f"Institution({self.name!r}, {self.role}, {self.signer.address})"


@dataclass(frozen=True, repr=False)
class DevSecrets:
    keyring: FingerprintKeyring
    deployer: Signer
    institutions: tuple[Institution, ...]

    def __repr__(self) -> str:
        return (
            f"DevSecrets({len(self.institutions)} institutions, deployer {self.deployer.address})"
        )

    def institution(self, name: str) -> Institution:
        for institution in self.institutions:
            if institution.name == name:
                return institution
        raise ConfigurationError(f"no institution named {name!r} in the secrets file")

    def with_role(self, role: Role) -> tuple[Institution, ...]:
        return tuple(i for i in self.institutions if i.role is role)

    @classmethod
    def generate(cls) -> DevSecrets:
        deployer = Signer.generate()
        admin = Institution(ADMIN_NAME, Role.ADMIN, deployer, generate_api_key())
        return cls(FingerprintKeyring.generate(), deployer, (admin,)).with_dev_institutions()

    def with_dev_institutions(self) -> DevSecrets:
        """These secrets plus a fresh key for each of :data:`DEV_INSTITUTIONS` they lack (a
        secrets file written before those institutions existed); the same secrets if none."""
        names = {i.name for i in self.institutions}
        missing = tuple(
            Institution(name, role, Signer.generate(), generate_api_key())
            for name, role in DEV_INSTITUTIONS
            if name not in names
        )
        if not missing:
            return self
        return DevSecrets(self.keyring, self.deployer, (*self.institutions, *missing))

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.keyring.to_mapping(),
            "deployer": self.deployer.private_key_hex,
            "institutions": [
                {
                    "name": i.name,
                    "role": i.role.value,
                    "private_key": i.signer.private_key_hex,
                    "api_key": i.api_key,
                }
                for i in self.institutions
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DevSecrets:
        try:
            deployer = Signer(data["deployer"])
            institutions = tuple(
                Institution(
                    i["name"],
                    Role(i["role"]),
                    deployer if i["private_key"] == data["deployer"] else Signer(i["private_key"]),
                    i["api_key"],
                )
                for i in data["institutions"]
            )
            return cls(FingerprintKeyring.from_mapping(data["fingerprint"]), deployer, institutions)
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigurationError(f"malformed secrets file: {type(error).__name__}") from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created with 0600 from the start, so the keys are never readable by others, even briefly;
        # an existing file (rewritten to add institutions) is narrowed to 0600 before the write.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.to_json(), handle, indent=2)

    @classmethod
    def load(cls, path: Path) -> DevSecrets:
        if not path.is_file():
            raise ConfigurationError(f"no secrets file at {path}; `creditreg up` generates one")
        return cls.from_json(json.loads(path.read_text()))

    @classmethod
    def load_or_generate(cls, path: Path) -> DevSecrets:
        """The secrets file's secrets, completed with any dev institution it lacks (and then
        saved, keeping every existing key); a new file if there is none."""
        if path.is_file():
            loaded = cls.load(path)
            completed = loaded.with_dev_institutions()
            if completed is not loaded:
                completed.save(path)
            return completed
        generated = cls.generate()
        generated.save(path)
        return generated
