"""Keystores for tests: a known password and a cheap scrypt cost (the setting's default is for
production; a test writing the dev stack's nine keystores at it would spend seconds on each)."""

from __future__ import annotations

from pydantic import SecretStr

from registry.keystore import KeystorePassword, Keystores

__all__ = ["KEYSTORE_SETTINGS", "TEST_PASSWORD", "TEST_SCRYPT_N", "cheap_keystores"]

TEST_PASSWORD = "correct horse battery staple (tests only)"
TEST_SCRYPT_N = 2**4


def cheap_keystores(password: str = TEST_PASSWORD, source: str = "the tests") -> Keystores:
    return Keystores(KeystorePassword(SecretStr(password), source), TEST_SCRYPT_N)


KEYSTORE_SETTINGS: dict[str, object] = {
    "keystore_password": SecretStr(TEST_PASSWORD),
    "keystore_scrypt_n": TEST_SCRYPT_N,
}
"""What unlocks the keystores :func:`cheap_keystores` writes: ``Settings(**KEYSTORE_SETTINGS)``."""
