"""Institutions, their signing keys and their API keys.

The API signs transactions for the institutions it serves, so it holds their keys; clients prove who
they are with an API key, which the database stores only as a SHA-256 hash. On the embedded dev
stack all of this is generated once into a secrets file (mode 0600) below the state directory:
fingerprint keys, the deployer (admin) key, and two banks with their keys and API keys.
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

__all__ = ["DevSecrets", "Institution", "Role", "generate_api_key", "hash_api_key"]

API_KEY_PREFIX = "crk_"


class Role(enum.StrEnum):
    """What an API key may do. ``lender`` maps to the chain's LENDER_ROLE; ``admin`` to
    DEFAULT_ADMIN_ROLE."""

    LENDER = "lender"
    ADMIN = "admin"


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

    @classmethod
    def generate(cls, bank_names: tuple[str, ...] = ("Bank A", "Bank B")) -> DevSecrets:
        deployer = Signer.generate()
        banks = tuple(
            Institution(name, Role.LENDER, Signer.generate(), generate_api_key())
            for name in bank_names
        )
        admin = Institution("Consortium admin", Role.ADMIN, deployer, generate_api_key())
        return cls(FingerprintKeyring.generate(), deployer, (admin, *banks))

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
        # Created with 0600 from the start, so the keys are never readable by others, even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.to_json(), handle, indent=2)

    @classmethod
    def load(cls, path: Path) -> DevSecrets:
        if not path.is_file():
            raise ConfigurationError(f"no secrets file at {path}; `creditreg up` generates one")
        return cls.from_json(json.loads(path.read_text()))

    @classmethod
    def load_or_generate(cls, path: Path) -> DevSecrets:
        if path.is_file():
            return cls.load(path)
        generated = cls.generate()
        generated.save(path)
        return generated
