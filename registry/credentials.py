"""Institutions, their signing keys and their API keys, and the two secrets files that hold them.

The API signs transactions for the institutions it serves, so it holds their keys; clients prove who
they are with an API key, which the database stores only as a SHA-256 hash. The consortium admin's
key (the deployer's) is kept apart: no route needs it, and a compromised API must not be a
compromised consortium. So the secrets live in two files, each mode 0600:

- the API's secrets file (:class:`ApiSecrets`, ``secrets.json``): the fingerprint keys, the
  institutions the API signs for with their signing and API keys, and the API keys of institutions
  it only authenticates (the consortium admin, without its signing key). ``creditreg serve`` reads
  this file and no other;
- the admin secrets file (:class:`AdminSecrets`, ``admin-secrets.json``): the deployer's key, read
  only by ``creditreg deploy`` and by the deployment step of ``creditreg up``.

No key is in either file in clear: each signing key is in a keystore of its own, and the
fingerprint keys in one more, all encrypted under one password (:mod:`registry.keystore`, which
draws the layout); a file names its keystores by path and each institution's account beside it.
The API keys stay in the API's file in clear (why: :mod:`registry.keystore`), and
:func:`read_api_credentials` reads them without the password. The API's file::

    {"fingerprint": {"keystore": "keystore/fingerprint-keys.json"},
     "institutions": [
       {"name": "Consortium admin", "role": "admin", "account": "0x…", "api_key": "crk_…"},
       {"name": "Bank A", "role": "lender", "account": "0x…",
        "keystore": "keystore/0x….json", "api_key": "crk_…"}, …]}

and the admin's: ``{"deployer": {"account": "0x…", "keystore": "keystore/0x….json"}}``.

:class:`DevSecrets` is both together, as the embedded dev stack generates them (fingerprint keys,
the deployer, and the dev institutions of :data:`DEV_INSTITUTIONS` with their keys and API keys):
what deploying and the tests use. :meth:`DevSecrets.load_or_generate` also migrates the files of
earlier versions, every key kept: one file with the deployer's key in it (before the split) is
split, its admin key moving to the admin file; keys in clear (before the keystores) move into
keystores, and the files lose their plain key fields.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from registry.chain.client import Signer
from registry.contracts.roles import Role
from registry.errors import ConfigurationError
from registry.fingerprint import FingerprintKeyring
from registry.keystore import KEYRING_REFERENCE, Keystores, signer_reference, write_private

__all__ = [
    "ADMIN_NAME",
    "DEV_INSTITUTIONS",
    "AdminSecrets",
    "ApiCredential",
    "ApiSecrets",
    "DevSecrets",
    "Institution",
    "generate_api_key",
    "hash_api_key",
    "read_api_credentials",
]

API_KEY_PREFIX = "crk_"


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

    @property
    def account(self) -> ChecksumAddress:
        return self.signer.address

    def __repr__(self) -> str:
        return f"Institution({self.name!r}, {self.role}, {self.signer.address})"


@dataclass(frozen=True, repr=False)
class ApiCredential:
    """An institution the API authenticates but never signs for: its API key and its account,
    without a signing key (the consortium admin, as the API knows it)."""

    name: str
    role: Role
    account: ChecksumAddress
    api_key: str

    def __repr__(self) -> str:
        return f"ApiCredential({self.name!r}, {self.role}, {self.account})"


def _read_json(path: Path, what: str, hint: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigurationError(f"no {what} at {path}; {hint}")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"unreadable {what} {path}: {type(error).__name__}") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"malformed {what} {path}: not a JSON object")
    return document


def _read_admin_json(path: Path) -> dict[str, Any]:
    return _read_json(path, "admin secrets file", "deploying needs the consortium admin's key")


def _holds_admin_key(document: dict[str, Any]) -> bool:
    """Whether a secrets file is of the layout before the split: the deployer's key inside."""
    return "deployer" in document


_MIGRATE_HINT = "run `creditreg deploy` (or `creditreg up`) once, which moves them into keystores"


def _resolve(reference: object, base: Path) -> Path:
    """A keystore path as a secrets file names it: relative to the file's directory."""
    if not isinstance(reference, str):
        raise TypeError("a keystore path must be a string")
    return base / reference


def _parse_entry(
    entry: dict[str, Any], base: Path, keystores: Keystores | None
) -> Institution | ApiCredential:
    """One institution of the API's secrets file: with its signing key (from its keystore, or in
    clear as before the keystores) or, without one, as a credential. Without ``keystores``,
    every entry is read as a credential, no keystore opened."""
    role = Role(entry["role"])
    name, api_key = entry["name"], entry["api_key"]
    if "private_key" in entry:
        signer = Signer(entry["private_key"])
        if keystores is None:
            return ApiCredential(name, role, signer.address, api_key)
        return Institution(name, role, signer, api_key)
    account = to_checksum_address(entry["account"])
    if keystores is None or "keystore" not in entry:
        return ApiCredential(name, role, account, api_key)
    signer = keystores.read_signer(_resolve(entry["keystore"], base), account)
    return Institution(name, role, signer, api_key)


def _holds_plain_keys(document: dict[str, Any]) -> bool:
    """Whether an API secrets file is of the layout before the keystores: keys in clear."""
    fingerprint = document.get("fingerprint")
    return (isinstance(fingerprint, dict) and "keys" in fingerprint) or any(
        isinstance(entry, dict) and "private_key" in entry
        for entry in document.get("institutions", ())
    )


def read_api_credentials(path: Path) -> tuple[ApiCredential, ...]:
    """Every institution's API key in the API's secrets file, with its name, role and account,
    read without the keystore password: what a client of the API needs (``creditreg demo``)."""
    data = _read_json(path, "secrets file", "`creditreg up` generates one")
    try:
        entries = [_parse_entry(entry, path.parent, None) for entry in data["institutions"]]
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"malformed secrets file: {type(error).__name__}") from None
    # Without keystores, every entry is read as a credential.
    return tuple(entry for entry in entries if isinstance(entry, ApiCredential))


@dataclass(frozen=True, repr=False)
class ApiSecrets:
    """What the API process holds: the fingerprint keys, the institutions it signs for, and the
    credentials of the institutions it only authenticates. Never a signing key with the admin
    role: building one is refused."""

    keyring: FingerprintKeyring
    institutions: tuple[Institution, ...]
    key_only: tuple[ApiCredential, ...] = ()

    def __post_init__(self) -> None:
        admins = [i.name for i in self.institutions if i.role is Role.ADMIN]
        if admins:
            raise ConfigurationError(
                f"the API's secrets may not hold the signing key of an admin ({', '.join(admins)})"
            )

    def __repr__(self) -> str:
        return f"ApiSecrets({len(self.institutions)} signers, {len(self.key_only)} key-only)"

    @property
    def credentials(self) -> tuple[Institution | ApiCredential, ...]:
        """Every API key the API accepts, with whom it stands for."""
        return (*self.key_only, *self.institutions)

    def institution(self, name: str) -> Institution:
        for institution in self.institutions:
            if institution.name == name:
                return institution
        raise ConfigurationError(f"no institution named {name!r} in the secrets file")

    def to_json(self) -> dict[str, Any]:
        """The file's JSON, naming the keystores :meth:`save` writes beside it."""
        return {
            "fingerprint": {"keystore": KEYRING_REFERENCE},
            "institutions": [
                {"name": c.name, "role": c.role.value, "account": c.account, "api_key": c.api_key}
                for c in self.key_only
            ]
            + [
                {
                    "name": i.name,
                    "role": i.role.value,
                    "account": i.account,
                    "keystore": signer_reference(i.account),
                    "api_key": i.api_key,
                }
                for i in self.institutions
            ],
        }

    @classmethod
    def from_json(
        cls, data: dict[str, Any], base: Path, keystores: Keystores, *, plain: bool = False
    ) -> ApiSecrets:
        """The secrets a file's JSON names, its keystores (paths relative to ``base``) unlocked.
        Keys in clear (the layout before the keystores) are refused unless ``plain``."""
        if _holds_admin_key(data):
            raise ConfigurationError(
                "the secrets file still holds the consortium admin's key; run `creditreg deploy` "
                "(or `creditreg up`) once, which moves it to the admin secrets file"
            )
        if not plain and _holds_plain_keys(data):
            raise ConfigurationError(f"the secrets file holds keys in clear; {_MIGRATE_HINT}")
        try:
            institutions, key_only = [], []
            for entry in data["institutions"]:
                parsed = _parse_entry(entry, base, keystores)
                if isinstance(parsed, Institution):
                    institutions.append(parsed)
                else:
                    key_only.append(parsed)
            fingerprint = data["fingerprint"]
            if "keys" in fingerprint:
                keyring = FingerprintKeyring.from_mapping(fingerprint)
            else:
                keyring = keystores.read_keyring(_resolve(fingerprint["keystore"], base))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigurationError(f"malformed secrets file: {type(error).__name__}") from None
        return cls(keyring, tuple(institutions), tuple(key_only))

    def save(self, path: Path, keystores: Keystores) -> None:
        """Writes the keystores beside ``path``, then the file naming them."""
        for institution in self.institutions:
            keystores.write_signer(
                path.parent / signer_reference(institution.account), institution.signer
            )
        keystores.write_keyring(path.parent / KEYRING_REFERENCE, self.keyring)
        write_private(path, self.to_json())

    @classmethod
    def load(cls, path: Path, keystores: Keystores) -> ApiSecrets:
        data = _read_json(path, "secrets file", "`creditreg up` generates one")
        return cls.from_json(data, path.parent, keystores)


@dataclass(frozen=True, repr=False)
class AdminSecrets:
    """The consortium admin's key: it deploys the contracts and grants the roles."""

    deployer: Signer

    def __repr__(self) -> str:
        return f"AdminSecrets(deployer {self.deployer.address})"

    def to_json(self) -> dict[str, Any]:
        account = self.deployer.address
        return {"deployer": {"account": account, "keystore": signer_reference(account)}}

    def save(self, path: Path, keystores: Keystores) -> None:
        """Writes the deployer's keystore beside ``path``, then the file naming it."""
        reference = signer_reference(self.deployer.address)
        keystores.write_signer(path.parent / reference, self.deployer)
        write_private(path, self.to_json())

    @classmethod
    def from_json(
        cls, data: dict[str, Any], base: Path, keystores: Keystores, *, plain: bool = False
    ) -> AdminSecrets:
        """The key the JSON names, its keystore (relative to ``base``) unlocked. The key in
        clear (the layout before the keystores) is refused unless ``plain``."""
        try:
            deployer = data["deployer"]
            if isinstance(deployer, str):
                if not plain:
                    raise ConfigurationError(
                        f"the admin secrets file holds the key in clear; {_MIGRATE_HINT}"
                    )
                return cls(Signer(deployer))
            account = to_checksum_address(deployer["account"])
            return cls(keystores.read_signer(_resolve(deployer["keystore"], base), account))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigurationError(
                f"malformed admin secrets file: {type(error).__name__}"
            ) from None

    @classmethod
    def load(cls, path: Path, keystores: Keystores, *, plain: bool = False) -> AdminSecrets:
        return cls.from_json(_read_admin_json(path), path.parent, keystores, plain=plain)


@dataclass(frozen=True, repr=False)
class DevSecrets:
    """Every secret of a dev stack, the admin's included: what deploying needs (and the tests).
    The API gets :meth:`api_secrets` only."""

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

    def with_lenders(self, count: int, prefix: str = "Bank") -> DevSecrets:
        """These secrets plus ``count`` generated banks (``"<prefix> 001"``, …, numbered on from
        any these secrets hold already), each with its own signing key and API key: what a load
        or a race needs beyond the two dev banks. Funding them and granting their role on
        chain is :func:`registry.devstack.fund_dev_accounts` and
        :func:`~registry.devstack.grant_roles`, as for every dev institution."""
        taken = {i.name for i in self.institutions}
        free = (name for n in itertools.count(1) if (name := f"{prefix} {n:03d}") not in taken)
        added = tuple(
            Institution(name, Role.LENDER, Signer.generate(), generate_api_key())
            for name in itertools.islice(free, count)
        )
        return DevSecrets(self.keyring, self.deployer, (*self.institutions, *added))

    def with_institution(self, name: str, role: Role) -> DevSecrets:
        """These secrets plus a new institution ``name`` with ``role``, a fresh signing key and
        API key (onboarding a bank, a court, a customs office). Refused if the name is taken or
        the role is the admin's (the admin is the deployer, not an institution one adds)."""
        if any(i.name == name for i in self.institutions):
            raise ConfigurationError(f"an institution named {name!r} is in the secrets already")
        if role is Role.ADMIN:
            raise ConfigurationError("the consortium admin is the deployer; onboard members only")
        added = Institution(name, role, Signer.generate(), generate_api_key())
        return DevSecrets(self.keyring, self.deployer, (*self.institutions, added))

    def _signs_as_admin(self, institution: Institution) -> bool:
        return institution.role is Role.ADMIN or institution.account == self.deployer.address

    def api_secrets(self) -> ApiSecrets:
        """The part the API may hold: every institution's API key, but the signing keys of the
        institutions that are not the admin only."""
        return ApiSecrets(
            self.keyring,
            tuple(i for i in self.institutions if not self._signs_as_admin(i)),
            tuple(
                ApiCredential(i.name, i.role, i.account, i.api_key)
                for i in self.institutions
                if self._signs_as_admin(i)
            ),
        )

    def admin_secrets(self) -> AdminSecrets:
        return AdminSecrets(self.deployer)

    @classmethod
    def of(cls, api: ApiSecrets, admin: AdminSecrets) -> DevSecrets:
        """The two files' secrets together: the admin's credential gets the deployer's key back."""
        restored = []
        for credential in api.key_only:
            if credential.account != admin.deployer.address:
                raise ConfigurationError(
                    f"{credential.name} has no signing key in the secrets file, and the admin "
                    "secrets file holds the key of another account"
                )
            restored.append(
                Institution(credential.name, credential.role, admin.deployer, credential.api_key)
            )
        return cls(api.keyring, admin.deployer, (*restored, *api.institutions))

    def save(self, path: Path, admin_path: Path, keystores: Keystores) -> None:
        """Writes the API's part to ``path`` and the admin's key to ``admin_path``, each with its
        keystores; the admin file first, so that a crash in between leaves the key somewhere."""
        self.admin_secrets().save(admin_path, keystores)
        self.api_secrets().save(path, keystores)

    @classmethod
    def load(cls, path: Path, admin_path: Path, keystores: Keystores) -> DevSecrets:
        return cls.of(ApiSecrets.load(path, keystores), AdminSecrets.load(admin_path, keystores))

    @classmethod
    def _from_unsplit_json(cls, data: dict[str, Any]) -> DevSecrets:
        """A secrets file of the layout before the split: the deployer's key beside the rest, the
        admin's institution entry holding that same key."""
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

    @classmethod
    def load_or_generate(cls, path: Path, admin_path: Path, keystores: Keystores) -> DevSecrets:
        """The two files' secrets, completed with any dev institution they lack (then saved,
        keeping every existing key); new files, and keystores, if there are none.

        Files of earlier versions are migrated, every key kept: a secrets file from before the
        split has its admin key moved to ``admin_path`` and the rest kept in ``path``; keys in
        clear in either file move into keystores, and the plain key fields go. Refused when only
        one of the two files exists (one alone cannot be completed without inventing the other's
        keys), or when a migration would replace an admin file that holds another key.
        """
        if not path.is_file():
            if admin_path.is_file():
                raise ConfigurationError(
                    f"{admin_path} exists but the secrets file {path} does not; restore it, or "
                    "remove both to start afresh"
                )
            generated = cls.generate()
            generated.save(path, admin_path, keystores)
            return generated
        data = _read_json(path, "secrets file", "`creditreg up` generates one")
        if _holds_admin_key(data):
            loaded = cls._from_unsplit_json(data)
            if admin_path.is_file():
                kept = AdminSecrets.load(admin_path, keystores, plain=True).deployer.address
                if kept != loaded.deployer.address:
                    raise ConfigurationError(
                        f"{path} and {admin_path} hold different admin keys; keep one"
                    )
            completed = loaded.with_dev_institutions()
            completed.save(path, admin_path, keystores)
            return completed
        api = ApiSecrets.from_json(data, path.parent, keystores, plain=True)
        admin_data = _read_admin_json(admin_path)
        admin = AdminSecrets.from_json(admin_data, admin_path.parent, keystores, plain=True)
        loaded = cls.of(api, admin)
        completed = loaded.with_dev_institutions()
        if isinstance(admin_data.get("deployer"), str):  # the admin's key in clear
            completed.admin_secrets().save(admin_path, keystores)
        if completed is not loaded or _holds_plain_keys(data):
            completed.api_secrets().save(path, keystores)
        return completed
