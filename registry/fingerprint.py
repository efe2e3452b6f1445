"""Document fingerprints: how a document is named on chain without putting its data there.

A document (a property title, an export invoice, a customs declaration, an enterprise) is identified
on chain by ``HMAC-SHA256(key[v], canonical_bytes(document))``, stored beside the key version ``v``.

Why a keyed HMAC and not a plain hash: invoice, certificate and declaration numbers have little
entropy (a declaration number is 18 digits, most of them a customs office, a year and a counter).
Anyone reading the chain could hash every plausible number and recover the documents behind the
fingerprints. Without the key that enumeration is impossible.

Why one key shared by the consortium and not a random salt per bank: the registry exists to see the
same document presented twice, by two banks. Salts per bank would give each bank its own fingerprint
for the same invoice, and the duplicate would go unseen. The shared key is held by the institutions
of the consortium only; a leak of it brings the registry back to the plain-hash case, which is why
it can be rotated (below).

Canonical bytes (the contract with the banks; changing it changes every fingerprint, so any change
bumps :data:`SCHEMA_VERSION`)::

    uint16 SCHEMA_VERSION (big-endian)
    item(document type)         "property" | "export_invoice" | "customs_declaration" | "enterprise"
    item(field) ...             the normalized identifying fields, in this order:
        property             region_code, certificate_number
        export_invoice       exporter_uscc, invoice_number, currency
        customs_declaration  number
        enterprise           uscc

    item(s) = uint32 byte length (big-endian) || UTF-8 bytes of s

Every item carries its length, so the encoding is prefix-free and decodes in one way only: the
fields ``"a", "bc"`` and ``"ab", "c"`` give different bytes, as do equal fields under two document
types.

Normalization (also part of the contract, and applied when a document is constructed, so two
documents compare equal exactly when their fingerprints do): Unicode NFKC, upper case, trimmed; from
identifiers, every space and separator is removed as well (``- _ / .``, their full-width forms,
Unicode dashes and spaces, invisible format characters). An enterprise is its 18-character unified
social credit code (USCC, GB 32100-2015, check digit validated); a customs declaration number has 18
digits; a currency is an ISO 4217 code; a region is a 6-digit administrative division code. Amounts
identify nothing and are not part of any fingerprint; :func:`parse_minor_units` checks them at the
boundary.

Key rotation: a :class:`FingerprintKeyring` holds every key version still in use and one active
version. New fingerprints use the active key; lookups try :meth:`FingerprintKeyring.candidates`, one
fingerprint per version held, so a document registered under an old key is still found.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import struct
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeAlias, TypeGuard

from registry.errors import ConfigurationError, InvalidInput

__all__ = [
    "ISO_4217_CODES",
    "MAX_IDENTIFIER_LENGTH",
    "SCHEMA_VERSION",
    "CustomsDeclaration",
    "Document",
    "DocumentType",
    "Enterprise",
    "ExportInvoice",
    "Fingerprint",
    "FingerprintKeyring",
    "Property",
    "canonical_bytes",
    "normalize_currency",
    "normalize_declaration_number",
    "normalize_identifier",
    "normalize_region_code",
    "normalize_text",
    "normalize_uscc",
    "parse_minor_units",
]

SCHEMA_VERSION: int = 1

# Long enough for any real invoice or title certificate number (a Chinese title certificate such as
# "京(2020)朝阳区不动产权第0001234号" is about 20 characters), short enough that nobody stores a
# document body in an identifier field.
MAX_IDENTIFIER_LENGTH = 128

# ISO 4217 List One as published by SIX (the maintenance agency) on 2026-01-01: currencies, funds
# codes and precious metals. Withdrawn codes (HRK, ZWL, ANG, BGN, SLL, CUC) are absent on purpose:
# an invoice cannot be issued in them any more. XTS (reserved for testing) and XXX (no currency
# involved) are left out too: neither can denominate an invoice. Update from list-one.xml when SIX
# publishes an amendment. Kept as a table: one code per line would make 175 lines.
_ISO_4217_TABLE = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
    MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD
    XPF XPT XSU XUA YER ZAR ZMW ZWG
"""
ISO_4217_CODES: frozenset[str] = frozenset(_ISO_4217_TABLE.split())

# GB 32100-2015: the alphabet leaves out I, O, Z, S and V, which are easily misread.
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: value for value, char in enumerate(_USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_LENGTH = 18

# NFKC already folds the full-width forms (U+FF0D, U+FF3F, U+FF0F, U+FF0E) and most spaces onto
# these; the rest are separators that NFKC keeps as they are but a clerk may type between digits.
_SEPARATORS = frozenset("-_/.\u2212\u2044\u2215\u3002")
_SEPARATOR_CATEGORIES = frozenset({"Pd", "Zs", "Zl", "Zp", "Cf"})
# Control characters, lone surrogates (they have no UTF-8 encoding) and unassigned code points.
# Refusing unassigned ones keeps a fingerprint stable across Python versions: a later Unicode
# version may assign such a code point a decomposition, and NFKC would then change its output.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Cn"})

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_CURRENCY_SHAPE = re.compile(r"[A-Z]{3}", re.ASCII)

_KEY_VERSION_MIN = 1
# Key versions go on chain as uint16.
_KEY_VERSION_MAX = 0xFFFF
_MIN_KEY_BYTES = 16
_GENERATED_KEY_BYTES = 32
_DIGEST_BYTES = 32
# Amounts go on chain as uint256.
_MAX_MINOR_UNITS = 2**256 - 1
_MAX_MINOR_UNITS_DIGITS = len(str(_MAX_MINOR_UNITS))


class DocumentType(enum.StrEnum):
    """The kinds of document the registry fingerprints; the value is part of the canonical bytes."""

    PROPERTY = "property"
    EXPORT_INVOICE = "export_invoice"
    CUSTOMS_DECLARATION = "customs_declaration"
    ENTERPRISE = "enterprise"


# --- normalization -----------------------------------------------------------------------------


def normalize_text(value: str) -> str:
    """Unicode NFKC, upper case, trimmed.

    NFKC runs again after upper-casing: a few letters (``ΐ``, ``ΰ``) upper-case to a base letter
    plus combining marks, which NFKC would recompose, and the result must be stable when normalized
    twice.
    """
    text = unicodedata.normalize("NFKC", value).upper()
    return unicodedata.normalize("NFKC", text).strip()


def _is_separator(char: str) -> bool:
    return (
        char in _SEPARATORS or char.isspace() or unicodedata.category(char) in _SEPARATOR_CATEGORIES
    )


def normalize_identifier(value: str) -> str:
    """:func:`normalize_text`, then every space and separator removed.

    Removed: ``- _ / .`` (full-width forms included, through NFKC), every Unicode dash and space
    (no-break space, ideographic space), and invisible format characters (zero-width space, soft
    hyphen). ``"ab-12 34"``, its full-width spelling and ``" ab 12 34 "`` written with no-break or
    ideographic spaces all become ``"AB1234"``.
    """
    stripped = "".join(char for char in normalize_text(value) if not _is_separator(char))
    # Removing a separator can bring a letter next to a combining mark it now composes with.
    return unicodedata.normalize("NFKC", stripped)


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "string", f"{field} must be a string, not {type(value).__name__}")
    return value


def _normalize_free_identifier(value: object, field: str) -> str:
    """An identifier without a fixed format (invoice number, title certificate number)."""
    identifier = normalize_identifier(_require_str(value, field))
    if not identifier:
        raise InvalidInput(field, "identifier-empty", f"{field} is empty once spaces are removed")
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise InvalidInput(
            field,
            "identifier-too-long",
            f"{field} has {len(identifier)} characters; at most {MAX_IDENTIFIER_LENGTH} allowed",
        )
    for char in identifier:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise InvalidInput(
                field,
                "identifier-characters",
                f"{field} contains U+{ord(char):04X}: a control, surrogate or unassigned character",
            )
    return identifier


def _uscc_check_char(body: str) -> str:
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(body, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_CHARSET[(31 - total % 31) % 31]


def normalize_uscc(value: str, field: str = "uscc") -> str:
    """An 18-character unified social credit code with a valid GB 32100-2015 check digit.

    Raises :class:`InvalidInput` with rule ``uscc-format`` (length or alphabet) or
    ``uscc-check-digit``.
    """
    uscc = normalize_identifier(_require_str(value, field))
    if len(uscc) != _USCC_LENGTH:
        raise InvalidInput(
            field, "uscc-format", f"{field} must have {_USCC_LENGTH} characters, not {len(uscc)}"
        )
    misfits = sorted({char for char in uscc if char not in _USCC_VALUES})
    if misfits:
        raise InvalidInput(
            field,
            "uscc-format",
            f"{field} contains {', '.join(map(repr, misfits))}; a USCC uses only 0-9 and the "
            f"letters {_USCC_CHARSET[10:]}",
        )
    if _uscc_check_char(uscc[:-1]) != uscc[-1]:
        raise InvalidInput(
            field, "uscc-check-digit", f"{field} {uscc} fails the GB 32100-2015 check digit"
        )
    return uscc


def normalize_currency(value: str, field: str = "currency") -> str:
    """A current ISO 4217 alphabetic code (see :data:`ISO_4217_CODES`)."""
    currency = normalize_text(_require_str(value, field))
    if not _CURRENCY_SHAPE.fullmatch(currency) or currency not in ISO_4217_CODES:
        raise InvalidInput(
            field, "iso-4217", f"{field} {currency!r} is not an ISO 4217 currency code"
        )
    return currency


def _normalize_digits(value: object, field: str, length: int, rule: str, what: str) -> str:
    digits = normalize_identifier(_require_str(value, field))
    # ASCII digits only: str.isdigit() would also accept Arabic-Indic or superscript digits.
    if len(digits) != length or not _DIGITS.fullmatch(digits):
        raise InvalidInput(field, rule, f"{field} must be {what}: {length} digits")
    return digits


def normalize_declaration_number(value: str, field: str = "declaration_number") -> str:
    """A customs declaration number: 18 digits (full-width digits and separators accepted)."""
    return _normalize_digits(
        value, field, 18, "declaration-number-format", "a customs declaration number"
    )


def normalize_region_code(value: str, field: str = "region_code") -> str:
    """A Chinese administrative division code (GB/T 2260): 6 digits."""
    return _normalize_digits(
        value, field, 6, "region-code-format", "an administrative division code"
    )


def parse_minor_units(value: object, field: str) -> int:
    """An amount in integer minor units (cents, fen): an int or a string of ASCII digits, >= 0.

    Refused with rule ``non-negative-integer-minor-units``: booleans (``True`` is an ``int`` in
    Python, but never an amount), floats and decimals (an amount in minor units has no fraction, and
    a float cannot hold a large one exactly), negative numbers, strings that are not plain digits,
    and values above uint256, which the chain cannot hold.
    """
    rule = "non-negative-integer-minor-units"
    if isinstance(value, bool):
        raise InvalidInput(
            field, rule, f"{field} must be an integer amount in minor units, not a boolean"
        )
    if isinstance(value, str):
        if len(value) > _MAX_MINOR_UNITS_DIGITS or not _DIGITS.fullmatch(value):
            raise InvalidInput(
                field, rule, f"{field} must be a non-negative integer amount in minor units"
            )
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInput(
            field,
            rule,
            f"{field} must be an integer amount in minor units, not {type(value).__name__}",
        )
    if value < 0:
        raise InvalidInput(field, rule, f"{field} must not be negative")
    if value > _MAX_MINOR_UNITS:
        raise InvalidInput(field, rule, f"{field} exceeds the largest amount the chain holds")
    return int(value)


# --- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enterprise:
    """An enterprise, identified by its unified social credit code."""

    document_type: ClassVar[DocumentType] = DocumentType.ENTERPRISE
    uscc: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "uscc", normalize_uscc(self.uscc, "uscc"))

    def identifying_fields(self) -> tuple[str, ...]:
        return (self.uscc,)


@dataclass(frozen=True)
class ExportInvoice:
    """An export invoice: the exporter's USCC, the invoice number and the invoice currency."""

    document_type: ClassVar[DocumentType] = DocumentType.EXPORT_INVOICE
    exporter_uscc: str
    invoice_number: str
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "exporter_uscc", normalize_uscc(self.exporter_uscc, "exporter_uscc")
        )
        object.__setattr__(
            self,
            "invoice_number",
            _normalize_free_identifier(self.invoice_number, "invoice_number"),
        )
        object.__setattr__(self, "currency", normalize_currency(self.currency, "currency"))

    def identifying_fields(self) -> tuple[str, ...]:
        return (self.exporter_uscc, self.invoice_number, self.currency)


@dataclass(frozen=True)
class CustomsDeclaration:
    """A customs declaration, identified by its 18-digit number."""

    document_type: ClassVar[DocumentType] = DocumentType.CUSTOMS_DECLARATION
    number: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", normalize_declaration_number(self.number, "number"))

    def identifying_fields(self) -> tuple[str, ...]:
        return (self.number,)


@dataclass(frozen=True)
class Property:
    """Real property: the administrative division it lies in and its title certificate number."""

    document_type: ClassVar[DocumentType] = DocumentType.PROPERTY
    region_code: str
    certificate_number: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "region_code", normalize_region_code(self.region_code))
        object.__setattr__(
            self,
            "certificate_number",
            _normalize_free_identifier(self.certificate_number, "certificate_number"),
        )

    def identifying_fields(self) -> tuple[str, ...]:
        return (self.region_code, self.certificate_number)


Document: TypeAlias = Enterprise | ExportInvoice | CustomsDeclaration | Property


def _encode_items(items: Iterable[str]) -> bytes:
    """The schema version, then each item as its UTF-8 byte length and its bytes.

    A length before every item, never plain concatenation: ``"A", "BC"`` and ``"AB", "C"`` must not
    give the same bytes.
    """
    parts = [struct.pack(">H", SCHEMA_VERSION)]
    for item in items:
        encoded = item.encode("utf-8")
        parts.append(struct.pack(">I", len(encoded)))
        parts.append(encoded)
    return b"".join(parts)


def canonical_bytes(document: Document) -> bytes:
    """The bytes a fingerprint is computed over (layout in the module docstring). Deterministic."""
    return _encode_items((document.document_type.value, *document.identifying_fields()))


# --- fingerprints and keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """A document's on-chain identity: the HMAC digest and the version of the key that made it."""

    key_version: int
    digest: bytes

    def __post_init__(self) -> None:
        if not _is_key_version(self.key_version):
            raise InvalidInput(
                "key_version",
                "key-version-range",
                f"key_version must be an integer from {_KEY_VERSION_MIN} to {_KEY_VERSION_MAX}",
            )
        if not isinstance(self.digest, bytes) or len(self.digest) != _DIGEST_BYTES:
            raise InvalidInput(
                "digest", "fingerprint-digest", f"a fingerprint digest has {_DIGEST_BYTES} bytes"
            )

    @property
    def hex(self) -> str:
        """The digest as ``0x``-prefixed hex, the way the chain and the API show it."""
        return "0x" + self.digest.hex()


def _is_key_version(version: object) -> TypeGuard[int]:
    return (
        isinstance(version, int)
        and not isinstance(version, bool)
        and _KEY_VERSION_MIN <= version <= _KEY_VERSION_MAX
    )


class FingerprintKeyring:
    """The fingerprint keys by version, and the version new fingerprints use.

    The keys are secret; ``repr`` shows the versions only, so a keyring in a log or a traceback
    reveals nothing.
    """

    def __init__(self, keys: Mapping[int, bytes], active_version: int) -> None:
        if not keys:
            raise ConfigurationError("a fingerprint keyring needs at least one key")
        held: dict[int, bytes] = {}
        for version, key in keys.items():
            if not _is_key_version(version):
                raise ConfigurationError(
                    f"fingerprint key version {version!r} is not an integer from "
                    f"{_KEY_VERSION_MIN} to {_KEY_VERSION_MAX}"
                )
            if not isinstance(key, bytes | bytearray) or len(key) < _MIN_KEY_BYTES:
                # The key itself stays out of the message: it ends up in logs.
                raise ConfigurationError(
                    f"fingerprint key version {version} must be at least {_MIN_KEY_BYTES} bytes"
                )
            held[version] = bytes(key)
        if not _is_key_version(active_version) or active_version not in held:
            raise ConfigurationError(
                f"active fingerprint key version {active_version!r} is not among the keys held "
                f"({', '.join(map(str, sorted(held)))})"
            )
        self._keys = held
        self._active_version = active_version

    @property
    def active_version(self) -> int:
        return self._active_version

    @property
    def versions(self) -> tuple[int, ...]:
        """The key versions held, active first, then newest to oldest."""
        older = sorted((v for v in self._keys if v != self._active_version), reverse=True)
        return (self._active_version, *older)

    def __repr__(self) -> str:
        versions = ", ".join(map(str, sorted(self._keys)))
        return f"FingerprintKeyring(versions=[{versions}], active_version={self._active_version})"

    def _fingerprint(self, version: int, message: bytes) -> Fingerprint:
        digest = hmac.new(self._keys[version], message, hashlib.sha256).digest()
        return Fingerprint(version, digest)

    def fingerprint(self, document: Document) -> Fingerprint:
        """The fingerprint a new registration uses: the active key over the canonical bytes."""
        return self._fingerprint(self._active_version, canonical_bytes(document))

    def candidates(self, document: Document) -> list[Fingerprint]:
        """One fingerprint per key version held, active first, then newest to oldest.

        A lookup must try them all: a document registered before a rotation carries the old version.
        """
        message = canonical_bytes(document)
        return [self._fingerprint(version, message) for version in self.versions]

    def rotated(self) -> FingerprintKeyring:
        """A fresh random key as the new active version; the old keys stay, for lookups."""
        version = max(self._keys) + 1
        if version > _KEY_VERSION_MAX:
            raise ConfigurationError("no fingerprint key version left to rotate to")
        return FingerprintKeyring(
            {**self._keys, version: secrets.token_bytes(_GENERATED_KEY_BYTES)}, version
        )

    @classmethod
    def generate(cls) -> FingerprintKeyring:
        """A fresh random 32-byte key as version 1: the default of a development stack."""
        return cls({1: secrets.token_bytes(_GENERATED_KEY_BYTES)}, 1)

    def to_mapping(self) -> dict[str, object]:
        """The JSON shape of the secrets file: ``{"active_version": 1, "keys": {"1": "<hex>"}}``."""
        return {
            "active_version": self._active_version,
            "keys": {str(version): key.hex() for version, key in sorted(self._keys.items())},
        }

    @classmethod
    def from_mapping(cls, data: object) -> FingerprintKeyring:
        """Reads :meth:`to_mapping`'s shape; raises :class:`ConfigurationError` on anything else."""
        if not isinstance(data, Mapping):
            raise ConfigurationError("fingerprint keyring: expected an object")
        active = data.get("active_version")
        if not _is_key_version(active):
            raise ConfigurationError(
                "fingerprint keyring: active_version must be an integer from "
                f"{_KEY_VERSION_MIN} to {_KEY_VERSION_MAX}"
            )
        stored = data.get("keys")
        if not isinstance(stored, Mapping):
            raise ConfigurationError("fingerprint keyring: keys must be an object")
        keys: dict[int, bytes] = {}
        for name, key_hex in stored.items():
            # Canonical decimal only: "1" and "01" must not name two keys for one version.
            if not isinstance(name, str) or not _DIGITS.fullmatch(name) or str(int(name)) != name:
                raise ConfigurationError(
                    "fingerprint keyring: a key version is not a decimal integer (no leading zeros)"
                )
            keys[int(name)] = _parse_key_hex(int(name), key_hex)
        return cls(keys, active)


_HEX = re.compile(r"(?:0x)?((?:[0-9a-fA-F]{2})*)", re.ASCII)


def _parse_key_hex(version: int, key_hex: object) -> bytes:
    match = _HEX.fullmatch(key_hex) if isinstance(key_hex, str) else None
    if match is None:
        raise ConfigurationError(
            f"fingerprint keyring: key version {version} is not an even-length hex string"
        )
    return bytes.fromhex(match.group(1))
