"""Encrypted keys: Ethereum keystores (Web3 Secret Storage v3), all unlocked by one password.

Every signing key the registry holds (each institution's, the consortium admin's) is kept in a
keystore file of its own, the format geth, clef and eth-account read and write
(:meth:`eth_account.Account.encrypt`, :meth:`~eth_account.Account.decrypt`): a bank may bring a
keystore made by its own tools. The fingerprint keys are encrypted the same way, with the same
password: the plain JSON of the keyring in the v3 document's ``crypto`` section (scrypt,
AES-128-CTR, a Keccak-256 MAC), without an ``address``, and ``"contents": "fingerprint-keyring"``
saying what it holds. eth-keyfile's own decoder reads it (:func:`eth_keyfile.decode_keyfile_json`),
so the only code of ours in the cryptography is the encryption, and a test holds it to the
reference: a key encrypted by eth-account and by us decrypts alike through both.

Why the fingerprint keys too: whoever holds them can brute-force the low-entropy document numbers
behind every fingerprint on chain, for as long as the chain exists; nothing revokes that. The API
keys stay in the secrets file in clear (mode 0600): the database holds only their hashes, the file
is the list an operator hands out (``creditreg demo`` reads it without any password), and a leaked
API key is revoked at run time (``creditreg keys revoke``) without touching the chain.

Layout. A secrets file names its keystores by paths relative to its own directory; what this
package writes is a ``keystore/`` directory beside the file (mode 0700), each signing key in
``keystore/<checksum address>.json`` and the fingerprint keys in
``keystore/fingerprint-keys.json``, every file mode 0600. The admin secrets file has its own
``keystore/`` beside it: the same directory under the default state dir, another volume in
``docker-compose.yml``. Reading, the path in the file is followed wherever it points.

The password. ``CREDITREG_KEYSTORE_PASSWORD``, else the first line of the file
``CREDITREG_KEYSTORE_PASSWORD_FILE`` names (a Docker secret), else the dev password file
``keystore-password`` in the state dir: ``creditreg up`` and ``creditreg deploy`` generate it
(random, mode 0600) when no password is configured, and ``creditreg serve`` uses it when it is
there. Dev convenience only: a password beside the keys it unlocks protects nothing, and a real
deployment supplies its own. A wrong or missing password is a :class:`ConfigurationError` naming
the setting it came from, never the password.

The cost. Keystores are written with scrypt (r=8, p=1) at ``N = CREDITREG_KEYSTORE_SCRYPT_N``;
unset, :data:`SCRYPT_N` (2**17, OWASP's minimum for scrypt) under a configured password, and
:data:`DEV_SCRYPT_N` (2**12, geth's "light" N) under the dev password, which a costlier KDF
would not protect: it lies in clear beside the keystores. The API unlocks every key it signs with
at each start (in each worker): measured on a two-core machine, the dev stack's eight keystores
take 2.5 s at 2**17 (0.32 s each), 5.1 s at eth-account's and geth's 2**18, 0.06 s at 2**12,
against 0.6 ms for the keys in clear before. Reading, a keystore's own parameters apply, whatever
the setting says now.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from Crypto.Cipher import AES
from eth_account import Account
from eth_keyfile.keyfile import decode_keyfile_json
from eth_typing import ChecksumAddress, HexStr
from eth_utils.crypto import keccak
from pydantic import SecretStr

from registry.chain.client import Signer
from registry.errors import ConfigurationError
from registry.fingerprint import FingerprintKeyring
from registry.settings import Settings

__all__ = [
    "DEV_SCRYPT_N",
    "KEYRING_CONTENTS",
    "KEYRING_REFERENCE",
    "KEYSTORE_DIR",
    "PASSWORD_FILE_VARIABLE",
    "PASSWORD_VARIABLE",
    "SCRYPT_N",
    "KeystorePassword",
    "Keystores",
    "signer_reference",
    "write_private",
]

SCRYPT_N = 2**17
DEV_SCRYPT_N = 2**12
KEYSTORE_DIR = "keystore"
KEYRING_REFERENCE = f"{KEYSTORE_DIR}/fingerprint-keys.json"
KEYRING_CONTENTS = "fingerprint-keyring"
_SCRYPT_R, _SCRYPT_P, _DKLEN = 8, 1, 32


def _variable(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


PASSWORD_VARIABLE = _variable("keystore_password")
PASSWORD_FILE_VARIABLE = _variable("keystore_password_file")
SCRYPT_N_VARIABLE = _variable("keystore_scrypt_n")


def signer_reference(address: ChecksumAddress) -> str:
    """Where a secrets file keeps the keystore of ``address``'s key, relative to its directory."""
    return f"{KEYSTORE_DIR}/{address}.json"


def write_private(path: Path, document: dict[str, Any]) -> None:
    """Writes ``document`` as JSON readable by the owner only, atomically: the file is created
    0600 beside its destination and renamed over it, so the keys are never readable by others,
    even briefly, and a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover partial file may have been created wider
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


@dataclass(frozen=True, repr=False)
class KeystorePassword:
    """The password that unlocks every keystore, and where it came from: errors name the
    source, never the password (``repr`` neither)."""

    secret: SecretStr
    source: str
    """The setting or file it came from, as errors name it."""
    is_dev: bool = False
    """The generated dev password, kept in clear in the state dir."""

    def __post_init__(self) -> None:
        if not self.secret.get_secret_value():
            raise ConfigurationError(f"the keystore password from {self.source} is empty")

    def __repr__(self) -> str:
        return f"KeystorePassword(from {self.source})"

    @classmethod
    def from_settings(cls, settings: Settings, *, generate: bool = False) -> KeystorePassword:
        """The configured password: :data:`PASSWORD_VARIABLE`, else the file
        :data:`PASSWORD_FILE_VARIABLE` names, else the dev password file in the state dir, which
        ``generate`` (the dev setup: ``up``, ``deploy``) creates when it is missing.

        Raises :class:`ConfigurationError` naming both settings when there is none.
        """
        if settings.keystore_password is not None:
            return cls(settings.keystore_password, PASSWORD_VARIABLE)
        if settings.keystore_password_file is not None:
            path = settings.keystore_password_file
            return cls(_read_password(path), f"{PASSWORD_FILE_VARIABLE} ({path})")
        path = settings.dev_keystore_password_path
        source = f"the dev password file {path}"
        if generate and not path.exists():
            _create_dev_password(path)
        if path.exists():
            return cls(_read_password(path), source, is_dev=True)
        raise ConfigurationError(
            f"no keystore password: set {PASSWORD_VARIABLE} or {PASSWORD_FILE_VARIABLE} "
            f"(`creditreg up` and `creditreg deploy` generate a dev password in {path} when "
            "neither is set)"
        )


def _read_password(path: Path) -> SecretStr:
    """The file's first line, without its line ending (a Docker secret, an `echo` into a file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"cannot read the keystore password file {path}: {type(error).__name__}"
        ) from None
    lines = text.splitlines()
    return SecretStr(lines[0] if lines else "")


def _create_dev_password(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two dev processes starting at once must not each write a password of their own.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")


@dataclass(frozen=True, repr=False)
class Keystores:
    """Writes and reads keystores under one password; writes at scrypt cost ``scrypt_n``."""

    password: KeystorePassword
    scrypt_n: int

    def __post_init__(self) -> None:
        if self.scrypt_n < 2 or self.scrypt_n & (self.scrypt_n - 1):
            raise ConfigurationError(
                f"the keystores' scrypt N ({SCRYPT_N_VARIABLE}) must be a power of two, "
                f"not {self.scrypt_n}"
            )

    def __repr__(self) -> str:
        return f"Keystores({self.password!r}, scrypt N={self.scrypt_n})"

    @classmethod
    def from_settings(cls, settings: Settings, *, generate_password: bool = False) -> Keystores:
        """The configured password (:meth:`KeystorePassword.from_settings`) and cost: the
        setting, else :data:`DEV_SCRYPT_N` under the dev password and :data:`SCRYPT_N` under
        any other."""
        password = KeystorePassword.from_settings(settings, generate=generate_password)
        default = DEV_SCRYPT_N if password.is_dev else SCRYPT_N
        return cls(password, settings.keystore_scrypt_n or default)

    @property
    def _password(self) -> bytes:
        return self.password.secret.get_secret_value().encode()

    # --- signing keys ---------------------------------------------------------------------------

    def write_signer(self, path: Path, signer: Signer) -> None:
        """Writes ``signer``'s key to a keystore at ``path``."""
        document = Account.encrypt(
            HexStr(signer.private_key_hex),
            self.password.secret.get_secret_value(),
            kdf="scrypt",
            iterations=self.scrypt_n,
        )
        _write_keystore(path, document)

    def read_signer(self, path: Path, account: ChecksumAddress | None = None) -> Signer:
        """The key in the keystore at ``path``, which must be ``account``'s when given."""
        document = _read_keystore(path)
        signer = Signer(bytes(self._decrypt(path, document)))
        if account is not None and signer.address != account:
            raise ConfigurationError(
                f"the keystore {path} holds the key of {signer.address}, not of {account}"
            )
        return signer

    # --- fingerprint keys -----------------------------------------------------------------------

    def write_keyring(self, path: Path, keyring: FingerprintKeyring) -> None:
        """Writes the fingerprint keys to a keystore at ``path``."""
        plain = json.dumps(keyring.to_mapping(), sort_keys=True).encode()
        document = {**_encrypt_v3(plain, self._password, self.scrypt_n)}
        document["contents"] = KEYRING_CONTENTS
        _write_keystore(path, document)

    def read_keyring(self, path: Path) -> FingerprintKeyring:
        document = _read_keystore(path)
        if document.get("contents") != KEYRING_CONTENTS:
            raise ConfigurationError(f"the keystore {path} holds no fingerprint keys")
        plain = self._decrypt(path, document)
        try:
            mapping = json.loads(plain)
        except ValueError:
            raise ConfigurationError(f"malformed fingerprint keys in {path}") from None
        return FingerprintKeyring.from_mapping(mapping)

    def _decrypt(self, path: Path, document: dict[str, Any]) -> bytes:
        try:
            return decode_keyfile_json(document, self._password)
        except ValueError as error:
            if "MAC mismatch" in str(error):
                raise ConfigurationError(
                    f"the keystore password from {self.password.source} does not unlock {path}"
                ) from None
            raise ConfigurationError(f"malformed keystore {path}: {type(error).__name__}") from None
        except (KeyError, TypeError, NotImplementedError) as error:
            raise ConfigurationError(f"malformed keystore {path}: {type(error).__name__}") from None


def _encrypt_v3(plain: bytes, password: bytes, n: int) -> dict[str, Any]:
    """Web3 Secret Storage v3 over any bytes, as eth-keyfile builds it for a key: scrypt derives
    32 bytes from the password and a random salt; the first 16 are the AES-128-CTR key, the last
    16 go into the MAC, Keccak-256 of them and the ciphertext."""
    salt = secrets.token_bytes(16)
    # scrypt needs 128 * r * N bytes of memory; OpenSSL refuses more than maxmem.
    maxmem = 2 * 128 * _SCRYPT_R * n + 2**20
    derived = hashlib.scrypt(
        password, salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_DKLEN, maxmem=maxmem
    )
    iv = secrets.token_bytes(16)
    ciphertext = AES.new(derived[:16], AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(plain)
    return {
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": _DKLEN,
                "n": n,
                "r": _SCRYPT_R,
                "p": _SCRYPT_P,
                "salt": salt.hex(),
            },
            "mac": keccak(derived[16:32] + ciphertext).hex(),
        },
        "id": str(uuid.uuid4()),
        "version": 3,
    }


def _write_keystore(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, document)


def _read_keystore(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigurationError(f"no keystore at {path}")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"unreadable keystore {path}: {type(error).__name__}") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"malformed keystore {path}: not a JSON object")
    return document
