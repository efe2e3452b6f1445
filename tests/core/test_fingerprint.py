"""Document fingerprints: normalization, canonical bytes, keyed fingerprints and key rotation.

Self-contained: no fixture from conftest.py is used. The USCC check digit is recomputed here from
GB 32100-2015 (independently of the module) and anchored on published codes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from registry.errors import ConfigurationError, InvalidInput
from registry.fingerprint import (
    ISO_4217_CODES,
    MAX_IDENTIFIER_LENGTH,
    SCHEMA_VERSION,
    CustomsDeclaration,
    Document,
    DocumentType,
    Enterprise,
    ExportInvoice,
    Fingerprint,
    FingerprintKeyring,
    Property,
    _encode_items,
    canonical_bytes,
    normalize_currency,
    normalize_declaration_number,
    normalize_identifier,
    normalize_region_code,
    normalize_text,
    normalize_uscc,
    parse_minor_units,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
KEY_C = b"\xa5" * 16

# Published codes; both satisfy GB 32100-2015.
USCC_FUZHOU = "91350100M000100Y43"
USCC_BEIJING = "91110000600037341L"
DECLARATION = "220120241000012345"
REGION = "110105"
CERTIFICATE = "京(2020)朝阳区不动产权第0001234号"

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

SEPARATORS = (
    "-",
    "_",
    "/",
    ".",
    " ",
    "\t",
    "\u00a0",  # no-break space
    "\u3000",  # ideographic space
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u2010",  # hyphen
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u2212",  # minus sign
    "\uff0d",  # full-width hyphen-minus
    "\uff0f",  # full-width solidus
    "\uff3f",  # full-width low line
    "\uff0e",  # full-width full stop
    "\u200b",  # zero-width space
    "\u00ad",  # soft hyphen
)


def two_keys() -> FingerprintKeyring:
    """Key 1 retired from new registrations, key 2 active."""
    return FingerprintKeyring({1: KEY_A, 2: KEY_B}, 2)


def one_key(key: bytes = KEY_A) -> FingerprintKeyring:
    return FingerprintKeyring({1: key}, 1)


def full_width(text: str) -> str:
    """ASCII printable characters moved to the full-width block (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def uscc_with_check(body: str) -> str:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_CHARSET[(31 - total % 31) % 31]


def decode(data: bytes) -> tuple[int, list[str]]:
    """Parse canonical bytes back, refusing anything left over: injectivity made checkable."""
    (version,) = struct.unpack_from(">H", data, 0)
    offset, items = 2, []
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        offset += 4
        assert offset + length <= len(data), "item runs past the end"
        items.append(data[offset : offset + length].decode("utf-8"))
        offset += length
    assert offset == len(data)
    return version, items


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


# --- strategies ----------------------------------------------------------------------------------

usccs = st.text(USCC_CHARSET, min_size=17, max_size=17).map(uscc_with_check)
currencies = st.sampled_from(sorted(ISO_4217_CODES))
declaration_numbers = st.text("0123456789", min_size=18, max_size=18)
region_codes = st.text("0123456789", min_size=6, max_size=6)
# Already in normal form, so a generated value is its own normalization.
plain_identifiers = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()京朝阳区不动产权第号", min_size=1, max_size=30
)

documents: st.SearchStrategy[Document] = st.one_of(
    st.builds(Enterprise, usccs),
    st.builds(ExportInvoice, usccs, plain_identifiers, currencies),
    st.builds(CustomsDeclaration, declaration_numbers),
    st.builds(Property, region_codes, plain_identifiers),
)


@st.composite
def respelled(draw: st.DrawFn, text: str, *, inner_separators: bool = True) -> str:
    """One of the many ways a clerk might type ``text``: case, width, separators, padding."""
    out = []
    for i, char in enumerate(text):
        if i and inner_separators and draw(st.booleans()):
            out.append(draw(st.sampled_from(SEPARATORS)))
        if char.isascii():
            char = draw(st.sampled_from([char, char.lower(), full_width(char)]))
        out.append(char)
    pad = st.text(" \t\u00a0\u3000\u2003", max_size=3)
    return draw(pad) + "".join(out) + draw(pad)


# --- many spellings, one fingerprint -------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        USCC_FUZHOU,
        USCC_FUZHOU.lower(),
        full_width(USCC_FUZHOU),
        f"  {USCC_FUZHOU}\n",
        "9135-0100-M000100Y4-3",
        "9135 0100 M000 100Y 43",
        "9135\u00a00100\u3000m000100y43",
        "\u30009135\u20130100\u2014M000100Y43\u00a0",
        "9135\u200b0100M000100Y43",
        full_width("9135-0100 m000100y43"),
    ],
)
def test_enterprise_spellings_share_one_fingerprint(spelling: str) -> None:
    canonical = Enterprise(USCC_FUZHOU)
    assert Enterprise(spelling) == canonical
    assert Enterprise(spelling).uscc == USCC_FUZHOU
    assert one_key().fingerprint(Enterprise(spelling)) == one_key().fingerprint(canonical)


@pytest.mark.parametrize(
    ("invoice_number", "currency"),
    [
        ("INV-2024/001", "USD"),
        ("inv 2024 001", "usd"),
        ("INV_2024.001", " USD "),
        (full_width("inv-2024/001"), full_width("usd")),
        (" inv\u00a02024\u3000001 ", "\u3000Usd\u00a0"),
        ("INV\u20102024\u2212001", "uSd"),
        ("I-N-V-2-0-2-4-0-0-1", "USD\t"),
    ],
)
def test_export_invoice_spellings_share_one_fingerprint(invoice_number: str, currency: str) -> None:
    canonical = ExportInvoice(USCC_FUZHOU, "INV2024001", "USD")
    spelled = ExportInvoice(USCC_FUZHOU.lower(), invoice_number, currency)
    assert spelled == canonical
    assert canonical_bytes(spelled) == canonical_bytes(canonical)
    assert one_key().fingerprint(spelled) == one_key().fingerprint(canonical)


@pytest.mark.parametrize(
    "number",
    [
        DECLARATION,
        full_width(DECLARATION),
        "2201-2024-1000-0123-45",
        " 2201 2024 1000 0123 45 ",
        "220120241000\u3000012345",
        "2201/2024.1000_012345",
    ],
)
def test_customs_declaration_spellings_share_one_fingerprint(number: str) -> None:
    assert CustomsDeclaration(number).number == DECLARATION
    assert one_key().fingerprint(CustomsDeclaration(number)) == one_key().fingerprint(
        CustomsDeclaration(DECLARATION)
    )


@pytest.mark.parametrize(
    ("region", "certificate"),
    [
        (REGION, CERTIFICATE),
        (full_width(REGION), full_width("京(2020)朝阳区不动产权第0001234号")),
        (" 110-105 ", "京 (2020) 朝阳区 不动产权 第 0001234 号"),
        ("110\u3000105", "\u3000京(2020)朝阳区不动产权第" + full_width("0001234") + "号\u00a0"),
    ],
)
def test_property_spellings_share_one_fingerprint(region: str, certificate: str) -> None:
    spelled = Property(region, certificate)
    assert spelled == Property(REGION, CERTIFICATE)
    assert spelled.certificate_number == CERTIFICATE
    assert one_key().fingerprint(spelled) == one_key().fingerprint(Property(REGION, CERTIFICATE))


@settings(deadline=None)
@given(st.data(), usccs, plain_identifiers, currencies)
def test_any_respelling_of_an_invoice_gives_its_fingerprint(
    data: st.DataObject, uscc: str, number: str, currency: str
) -> None:
    canonical = ExportInvoice(uscc, number, currency)
    spelled = ExportInvoice(
        data.draw(respelled(uscc)),
        data.draw(respelled(number)),
        # A currency code is text, not an identifier: no separators inside it.
        data.draw(respelled(currency, inner_separators=False)),
    )
    assert spelled == canonical
    assert two_keys().candidates(spelled) == two_keys().candidates(canonical)


@settings(deadline=None)
@given(st.data(), declaration_numbers, region_codes, plain_identifiers)
def test_any_respelling_of_a_declaration_or_property_gives_its_fingerprint(
    data: st.DataObject, declaration: str, region: str, certificate: str
) -> None:
    ring = one_key()
    assert ring.fingerprint(CustomsDeclaration(data.draw(respelled(declaration)))) == (
        ring.fingerprint(CustomsDeclaration(declaration))
    )
    spelled = Property(data.draw(respelled(region)), data.draw(respelled(certificate)))
    assert ring.fingerprint(spelled) == ring.fingerprint(Property(region, certificate))


# --- normalization functions ---------------------------------------------------------------------


def test_normalize_text_and_identifier() -> None:
    assert normalize_text(full_width("  inv-001") + "\u3000") == "INV-001"
    assert normalize_text("straße") == "STRASSE"
    assert normalize_identifier(full_width("  inv-001") + "\u3000") == "INV001"
    assert normalize_identifier("a-b_c/d.e f\u00a0g\u3000h\u2013i\u200bj\u00adk") == "ABCDEFGHIJK"
    # Characters that are not separators survive.
    assert normalize_identifier("No.(7)#8") == "NO(7)#8"


@settings(deadline=None, max_examples=300)
@given(st.text())
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    ident = normalize_identifier(text)
    assert normalize_identifier(ident) == ident
    assert not any(c.isspace() or c in "-_/." for c in ident)


# --- canonical bytes: unambiguous and distinct ---------------------------------------------------


def test_canonical_bytes_follow_the_documented_layout() -> None:
    assert SCHEMA_VERSION == 1
    expected = (
        b"\x00\x01"
        + b"\x00\x00\x00\x0eexport_invoice"
        + b"\x00\x00\x00\x12"
        + USCC_FUZHOU.encode()
        + b"\x00\x00\x00\x03INV"
        + b"\x00\x00\x00\x03USD"
    )
    invoice = ExportInvoice(USCC_FUZHOU, "inv", "usd")
    assert canonical_bytes(invoice) == expected
    assert canonical_bytes(invoice) == canonical_bytes(ExportInvoice(USCC_FUZHOU, "inv", "usd"))
    fingerprint = one_key().fingerprint(invoice)
    assert fingerprint == Fingerprint(1, hmac_sha256(KEY_A, expected))
    # Multi-byte characters are counted in bytes, not characters.
    certificate = canonical_bytes(Property(REGION, "京1"))
    assert certificate.endswith(struct.pack(">I", len("京1".encode())) + "京1".encode())


@pytest.mark.parametrize(
    ("document", "document_type"),
    [
        (Enterprise(USCC_FUZHOU), DocumentType.ENTERPRISE),
        (ExportInvoice(USCC_FUZHOU, "A1", "CNY"), DocumentType.EXPORT_INVOICE),
        (CustomsDeclaration(DECLARATION), DocumentType.CUSTOMS_DECLARATION),
        (Property(REGION, CERTIFICATE), DocumentType.PROPERTY),
    ],
)
def test_canonical_bytes_carry_version_type_and_fields(
    document: Document, document_type: DocumentType
) -> None:
    version, items = decode(canonical_bytes(document))
    assert version == SCHEMA_VERSION
    assert items == [document_type.value, *document.identifying_fields()]


def test_split_between_fields_matters() -> None:
    # Plain concatenation would make these two equal.
    assert _encode_items(("property", "a", "bc")) != _encode_items(("property", "ab", "c"))
    assert _encode_items(("property", "a", "bc")) != _encode_items(("property", "abc"))
    assert _encode_items(("property", "", "abc")) != _encode_items(("property", "abc", ""))


@given(st.lists(st.text(), max_size=5), st.lists(st.text(), max_size=5))
def test_distinct_item_lists_encode_distinctly(left: list[str], right: list[str]) -> None:
    assume(left != right)
    assert _encode_items(left) != _encode_items(right)
    assert decode(_encode_items(left)) == (SCHEMA_VERSION, left)


def test_same_fields_under_another_document_type_differ() -> None:
    # An all-digit USCC is 18 digits, like a customs declaration number.
    digits = uscc_with_check("91110000000000006")
    assert digits.isdigit()
    enterprise, declaration = Enterprise(digits), CustomsDeclaration(digits)
    assert enterprise.identifying_fields() == declaration.identifying_fields()
    assert canonical_bytes(enterprise) != canonical_bytes(declaration)
    assert one_key().fingerprint(enterprise) != one_key().fingerprint(declaration)


@settings(deadline=None, max_examples=300)
@given(documents, documents)
def test_distinct_documents_never_collide(first: Document, second: Document) -> None:
    same = (first.document_type, first.identifying_fields()) == (
        second.document_type,
        second.identifying_fields(),
    )
    assert (canonical_bytes(first) == canonical_bytes(second)) is same
    assert (one_key().fingerprint(first) == one_key().fingerprint(second)) is same
    assert (first == second) is same


@settings(deadline=None)
@given(usccs, plain_identifiers, plain_identifiers, currencies)
def test_invoices_differing_only_in_number_differ(
    uscc: str, number: str, other: str, currency: str
) -> None:
    assume(number != other)
    ring = one_key()
    assert ring.fingerprint(ExportInvoice(uscc, number, currency)) != ring.fingerprint(
        ExportInvoice(uscc, other, currency)
    )


# --- keys and rotation ---------------------------------------------------------------------------


def test_fingerprint_is_hmac_of_the_active_key() -> None:
    document = CustomsDeclaration(DECLARATION)
    fingerprint = two_keys().fingerprint(document)
    assert fingerprint.key_version == 2
    assert fingerprint.digest == hmac_sha256(KEY_B, canonical_bytes(document))
    assert fingerprint.hex == "0x" + fingerprint.digest.hex()
    assert len(fingerprint.hex) == 66
    # Not a plain hash: without the key nobody can recompute it.
    assert fingerprint.digest != hashlib.sha256(canonical_bytes(document)).digest()


def test_different_keys_give_different_fingerprints() -> None:
    document = Enterprise(USCC_BEIJING)
    digests = {one_key(key).fingerprint(document).digest for key in (KEY_A, KEY_B, KEY_C)}
    assert len(digests) == 3


@given(st.binary(min_size=16, max_size=64), st.binary(min_size=16, max_size=64), documents)
def test_distinct_keys_never_share_a_fingerprint(
    first: bytes, second: bytes, doc: Document
) -> None:
    assume(first != second)
    assert one_key(first).fingerprint(doc) != one_key(second).fingerprint(doc)


def test_document_registered_under_old_key_is_found_after_rotation() -> None:
    document = ExportInvoice(USCC_FUZHOU, "INV-7", "EUR")
    registered = one_key(KEY_A).fingerprint(document)
    rotated = FingerprintKeyring({1: KEY_A, 2: KEY_B}, 2)
    assert rotated.fingerprint(document) != registered
    candidates = rotated.candidates(document)
    assert registered in candidates
    assert candidates[0] == rotated.fingerprint(document)
    assert [c.key_version for c in candidates] == [2, 1]


def test_candidates_are_active_first_then_newest_to_oldest() -> None:
    # Version 3 was tried and rolled back: 2 is active again, 3 still held.
    ring = FingerprintKeyring({1: KEY_A, 3: KEY_C, 2: KEY_B}, 2)
    assert ring.versions == (2, 3, 1)
    candidates = ring.candidates(Enterprise(USCC_FUZHOU))
    assert [c.key_version for c in candidates] == [2, 3, 1]
    assert len({c.digest for c in candidates}) == 3


def test_rotated_keyring_adds_a_fresh_active_key_and_keeps_the_old_ones() -> None:
    document = Enterprise(USCC_FUZHOU)
    old = FingerprintKeyring.generate()
    new = old.rotated()
    assert (old.active_version, new.active_version) == (1, 2)
    assert new.versions == (2, 1)
    assert old.fingerprint(document) in new.candidates(document)
    assert new.fingerprint(document).digest != old.fingerprint(document).digest


def test_generated_keyrings_have_distinct_random_keys() -> None:
    first, second = FingerprintKeyring.generate(), FingerprintKeyring.generate()
    assert first.active_version == 1
    keys = first.to_mapping()["keys"]
    assert isinstance(keys, dict)
    assert len(bytes.fromhex(keys["1"])) == 32
    document = Enterprise(USCC_FUZHOU)
    assert first.fingerprint(document) != second.fingerprint(document)


@pytest.mark.parametrize(
    ("keys", "active"),
    [
        ({}, 1),
        ({1: b"\x01" * 15}, 1),
        ({1: KEY_A}, 2),
        ({0: KEY_A}, 0),
        ({65536: KEY_A}, 65536),
        ({True: KEY_A}, True),
        ({1: "00" * 32}, 1),
    ],
)
def test_keyring_refuses_bad_configuration(keys: dict[int, bytes], active: int) -> None:
    with pytest.raises(ConfigurationError) as caught:
        FingerprintKeyring(keys, active)
    assert caught.value.rule == "configuration-error"


def test_keyring_accepts_boundary_versions_and_key_length() -> None:
    ring = FingerprintKeyring({1: b"\x01" * 16, 65535: KEY_A}, 65535)
    assert ring.versions == (65535, 1)


def test_repr_hides_key_material() -> None:
    ring = FingerprintKeyring({1: KEY_A, 2: KEY_B}, 2)
    for text in (repr(ring), str(ring), f"{ring!r}", repr([ring])):
        for key in (KEY_A, KEY_B):
            assert key.hex() not in text.lower()
            assert repr(key) not in text
            assert key.hex()[:16] not in text.lower()
    assert repr(ring) == "FingerprintKeyring(versions=[1, 2], active_version=2)"


def test_short_key_error_does_not_echo_the_key() -> None:
    short = b"\x42" * 15
    with pytest.raises(ConfigurationError) as caught:
        FingerprintKeyring({1: short}, 1)
    assert caught.value.rule == "configuration-error"
    assert short.hex() not in str(caught.value)


# --- storing keys --------------------------------------------------------------------------------


def test_mapping_round_trip_through_json() -> None:
    ring = FingerprintKeyring({1: KEY_A, 2: KEY_B}, 2)
    mapping = ring.to_mapping()
    assert mapping == {"active_version": 2, "keys": {"1": KEY_A.hex(), "2": KEY_B.hex()}}
    restored = FingerprintKeyring.from_mapping(json.loads(json.dumps(mapping)))
    document = Property(REGION, CERTIFICATE)
    assert restored.active_version == 2
    assert restored.candidates(document) == ring.candidates(document)
    assert restored.to_mapping() == mapping


def test_from_mapping_accepts_0x_prefixed_hex() -> None:
    ring = FingerprintKeyring.from_mapping({"active_version": 1, "keys": {"1": "0x" + KEY_A.hex()}})
    assert ring.fingerprint(Enterprise(USCC_FUZHOU)) == one_key().fingerprint(
        Enterprise(USCC_FUZHOU)
    )


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "keys",
        {"keys": {"1": KEY_A.hex()}},
        {"active_version": "1", "keys": {"1": KEY_A.hex()}},
        {"active_version": True, "keys": {"1": KEY_A.hex()}},
        {"active_version": 1.0, "keys": {"1": KEY_A.hex()}},
        {"active_version": 2, "keys": {"1": KEY_A.hex()}},
        {"active_version": 1},
        {"active_version": 1, "keys": [KEY_A.hex()]},
        {"active_version": 1, "keys": {}},
        {"active_version": 1, "keys": {"01": KEY_A.hex()}},
        {"active_version": 1, "keys": {"one": KEY_A.hex()}},
        {"active_version": 1, "keys": {"-1": KEY_A.hex()}},
        {"active_version": 1, "keys": {"1": KEY_A.hex()[:-1]}},
        {"active_version": 1, "keys": {"1": "zz" * 32}},
        {"active_version": 1, "keys": {"1": KEY_A.hex()[:30]}},
        {"active_version": 1, "keys": {"1": " " + KEY_A.hex()}},
        {"active_version": 1, "keys": {"1": 1234}},
        {"active_version": 1, "keys": {"1": None}},
    ],
)
def test_from_mapping_refuses_malformed_input(data: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        FingerprintKeyring.from_mapping(data)
    assert caught.value.rule == "configuration-error"
    assert KEY_A.hex()[:30] not in str(caught.value)


# --- USCC ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("uscc", [USCC_FUZHOU, USCC_BEIJING])
def test_published_usccs_are_accepted(uscc: str) -> None:
    assert uscc_with_check(uscc[:17]) == uscc
    assert normalize_uscc(uscc) == uscc
    assert normalize_uscc(uscc.lower()) == uscc


@pytest.mark.parametrize("uscc", [USCC_FUZHOU, USCC_BEIJING])
def test_every_single_character_substitution_is_rejected(uscc: str) -> None:
    rejected = 0
    for position in range(len(uscc)):
        for replacement in USCC_CHARSET + "IOZSV!":
            if replacement == uscc[position]:
                continue
            altered = uscc[:position] + replacement + uscc[position + 1 :]
            with pytest.raises(InvalidInput) as caught:
                normalize_uscc(altered)
            expected = "uscc-check-digit" if replacement in USCC_CHARSET else "uscc-format"
            assert caught.value.rule == expected, altered
            assert caught.value.field == "uscc"
            rejected += 1
    assert rejected == 18 * (31 + 6 - 1)


@settings(deadline=None)
@given(usccs, st.integers(0, 17), st.sampled_from(USCC_CHARSET))
def test_generated_usccs_detect_any_substitution(uscc: str, position: int, char: str) -> None:
    assert normalize_uscc(uscc) == uscc
    assume(uscc[position] != char)
    with pytest.raises(InvalidInput, match="check digit") as caught:
        normalize_uscc(uscc[:position] + char + uscc[position + 1 :])
    assert (caught.value.field, caught.value.rule) == ("uscc", "uscc-check-digit")


@pytest.mark.parametrize("uscc", [USCC_FUZHOU[:-1], USCC_FUZHOU + "0", "", "   ", "9135"])
def test_uscc_of_wrong_length_is_rejected_with_the_field_named(uscc: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_uscc(uscc, field="exporter_uscc")
    assert (caught.value.field, caught.value.rule) == ("exporter_uscc", "uscc-format")
    assert "18" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        ExportInvoice(uscc, "INV1", "USD")
    assert (caught.value.field, caught.value.rule) == ("exporter_uscc", "uscc-format")


def test_enterprise_with_bad_check_digit_names_its_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        Enterprise(USCC_FUZHOU[:-1] + "4")
    assert (caught.value.field, caught.value.rule) == ("uscc", "uscc-check-digit")


# --- currency, declaration, region, free identifiers ---------------------------------------------


def test_currency_table_holds_current_codes_only() -> None:
    assert {"CNY", "USD", "EUR", "HKD", "JPY", "XCG", "ZWG", "SLE"} <= ISO_4217_CODES
    assert not {"HRK", "ZWL", "SLL", "DEM", "XTS", "XXX"} & ISO_4217_CODES
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in ISO_4217_CODES)
    assert 170 <= len(ISO_4217_CODES) <= 185


@pytest.mark.parametrize(
    ("spelling", "code"), [("usd", "USD"), (full_width(" cny") + "\u3000", "CNY")]
)
def test_known_currencies_are_normalized(spelling: str, code: str) -> None:
    assert normalize_currency(spelling) == code


@pytest.mark.parametrize("currency", ["ABC", "XXX", "HRK", "US", "USDD", "", "U S D", "$", "元"])
def test_unknown_currency_is_rejected(currency: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_currency(currency, field="face_currency")
    assert (caught.value.field, caught.value.rule) == ("face_currency", "iso-4217")
    with pytest.raises(InvalidInput) as caught:
        ExportInvoice(USCC_FUZHOU, "INV1", currency)
    assert (caught.value.field, caught.value.rule) == ("currency", "iso-4217")


@pytest.mark.parametrize(
    "number",
    [
        DECLARATION[:-1],
        DECLARATION + "0",
        "2201-2024-1000-0123-4",
        "22012024100001234A",
        "\u0662" * 18,  # Arabic-Indic digits: digits, but not the ones customs prints
        "",
    ],
)
def test_declaration_number_must_have_18_digits(number: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_declaration_number(number)
    assert (caught.value.field, caught.value.rule) == (
        "declaration_number",
        "declaration-number-format",
    )
    with pytest.raises(InvalidInput, match="18 digits") as caught:
        CustomsDeclaration(number)
    assert (caught.value.field, caught.value.rule) == ("number", "declaration-number-format")


@pytest.mark.parametrize("region", ["11010", "1101050", "11O105", ""])
def test_region_code_must_have_6_digits(region: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_region_code(region)
    assert (caught.value.field, caught.value.rule) == ("region_code", "region-code-format")
    with pytest.raises(InvalidInput) as caught:
        Property(region, CERTIFICATE)
    assert (caught.value.field, caught.value.rule) == ("region_code", "region-code-format")


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("", "identifier-empty"),
        (" - / . _\u3000", "identifier-empty"),
        ("A" * (MAX_IDENTIFIER_LENGTH + 1), "identifier-too-long"),
        ("INV\x00001", "identifier-characters"),
        ("INV\U000e0080", "identifier-characters"),  # unassigned code point
    ],
)
def test_invoice_number_rules(number: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ExportInvoice(USCC_FUZHOU, number, "USD")
    assert (caught.value.field, caught.value.rule) == ("invoice_number", rule)


def test_longest_invoice_number_is_accepted() -> None:
    number = "A" * MAX_IDENTIFIER_LENGTH
    assert ExportInvoice(USCC_FUZHOU, number, "USD").invoice_number == number


@pytest.mark.parametrize(
    ("document_class", "args", "field"),
    [
        (Enterprise, (123,), "uscc"),
        (ExportInvoice, (USCC_FUZHOU, 42, "USD"), "invoice_number"),
        (ExportInvoice, (USCC_FUZHOU, "INV1", b"USD"), "currency"),
        (CustomsDeclaration, (None,), "number"),
        (Property, (110105, CERTIFICATE), "region_code"),
    ],
)
def test_non_string_fields_are_rejected(
    document_class: Callable[..., Document], args: tuple[object, ...], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        document_class(*args)
    assert (caught.value.field, caught.value.rule) == (field, "string")


def test_fingerprint_refuses_wrong_digest_or_version() -> None:
    with pytest.raises(InvalidInput) as caught:
        Fingerprint(1, b"\x00" * 31)
    assert (caught.value.field, caught.value.rule) == ("digest", "fingerprint-digest")
    for version in (0, 65536, True):
        with pytest.raises(InvalidInput) as caught:
            Fingerprint(version, b"\x00" * 32)
        assert (caught.value.field, caught.value.rule) == ("key_version", "key-version-range")
    assert Fingerprint(1, b"\xff" * 32).hex == "0x" + "ff" * 32


# --- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (1, 1), (10**20, 10**20), ("0", 0), ("12345", 12345), (2**256 - 1, 2**256 - 1)],
)
def test_parse_minor_units_accepts_non_negative_integers(value: object, expected: int) -> None:
    parsed = parse_minor_units(value, "amount")
    assert parsed == expected
    assert type(parsed) is int


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        1.0,
        1.5,
        float("nan"),
        -1,
        "-1",
        "1.5",
        "1e3",
        "",
        " 1",
        "+1",
        "0x10",
        "\u0661\u0662",  # Arabic-Indic digits, which int() would accept
        full_width("12"),  # full-width digits, which int() would accept too
        None,
        Decimal("1"),
        [1],
        2**256,
        "9" * 100,
    ],
)
def test_parse_minor_units_refuses(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_minor_units(value, "face_value")
    assert (caught.value.field, caught.value.rule) == (
        "face_value",
        "non-negative-integer-minor-units",
    )
