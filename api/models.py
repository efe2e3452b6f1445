"""The API's request and response bodies.

Requests check shape and JSON types, strictly: an amount is a JSON integer of minor units
(a float, a boolean, a numeric string or a number out of range is refused, never coerced); unknown
members are refused, so a misspelt optional field does not pass unseen. What a JSON Schema can say,
the model says, so that the OpenAPI document states what the server enforces: the receivable id
(``0x`` and 64 hex digits) and the declaration number (18 digits) as patterns, the amounts' range,
the declaration count, the check's declaration numbers as unique. The document rules no pattern
can state (the USCC's check digit, ISO 4217's list, what an identifier is once normalized) are the
domain service's: the schema names each by a ``format`` of its own (``uscc``, ``iso-4217``,
``identifier``), and the service raises them as bad input naming the same field, so the client
sees one problem shape either way. Where the boundary refuses, it uses the service's rule names.

Responses are read from the service's dataclasses (``from_attributes``): nothing else leaves the
service, and no database row or chain object reaches a client.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from registry.receivables import (
    AMOUNT_RULE,
    MAX_AMOUNT,
    MAX_DECLARATIONS,
    DeclarationStatus,
    InvoiceStatus,
)

__all__ = [
    "AMOUNT_LIMIT",
    "DECLARATION_NUMBER_PATTERN",
    "RECEIVABLE_ID_PATTERN",
    "AmountRequest",
    "AppraisalRequest",
    "AttestationRequest",
    "AttestedOut",
    "BoundOut",
    "CancelledOut",
    "CheckRequest",
    "CheckResponse",
    "ConsentAsk",
    "ConsentScope",
    "ConsentStateOut",
    "DeclarationCheckOut",
    "DeclarationIn",
    "DeclarationNumber",
    "EnterpriseBinding",
    "FieldError",
    "FinancingPageOut",
    "Health",
    "PledgeApplication",
    "PledgeId",
    "PledgeOut",
    "PledgeStateOut",
    "Problem",
    "PropertyId",
    "PropertyIdOut",
    "PropertyLookup",
    "PropertyOut",
    "PropertyRequest",
    "ReceivableId",
    "ReceivableOut",
    "ReceivablePageOut",
    "RegisterRequest",
    "RegisteredOut",
    "RejectionRequest",
    "RelayedOut",
    "RevocationAsk",
    "SeizureOut",
    "SeizureRequest",
    "SignedConsent",
    "TitleOut",
    "TransactionOut",
    "TxHash",
    "Uscc",
]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

RECEIVABLE_ID_PATTERN = "^0x[0-9a-fA-F]{64}$"
"""A receivable id: ``0x`` and 64 hex digits, the invoice's fingerprint (as
:func:`registry.receivables.parse_receivable_id` reads it)."""
DECLARATION_NUMBER_PATTERN = "^[0-9]{18}$"
"""A customs declaration number as the API takes it: 18 ASCII digits, nothing around them."""


def _matching(pattern: str, rule: str, message: str) -> WrapValidator:
    """Refuses a string that does not match ``pattern`` under ``rule``, the service's name for it.

    Matched in full here (``$`` alone would let a trailing newline through, as ECMA-262 does not,
    and the schema's pattern is read as ECMA-262), before the schema's own ``pattern`` constraint,
    whose error would carry pydantic's generic name."""
    compiled = re.compile(pattern.removeprefix("^").removesuffix("$"), re.ASCII)

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> str:
        if isinstance(value, str) and not compiled.fullmatch(value):
            raise PydanticCustomError(rule, message)
        result: str = handler(value)
        return result

    return WrapValidator(check)


AMOUNT_LIMIT = 10**22
"""Amounts the API takes are below this: 10**20 units of any currency, beyond any invoice.

The ledger holds up to 2**96 - 1 (``MAX_AMOUNT``), but no bound near that survives the JSON tooling
that reads the OpenAPI document: beyond 2**64 a number is read as a double (serde_json, and so
schemathesis; JavaScript from 2**53), and 2**96 as a double prints as 7.922816251426434e28, whose
decimal value is above 2**96. So tools would take amounts the server refuses as valid. 10**22 is
a double exactly, and prints exactly (``1e+22``): every tool reads the same bound as the server
enforces. And 32 declarations of the most each still sum far below the ledger's limit."""
assert AMOUNT_LIMIT <= MAX_AMOUNT


def _amount(value: Any, handler: ValidatorFunctionWrapHandler) -> int:
    # One rule for every way an amount can be wrong, the same one the service raises.
    try:
        result: int = handler(value)
    except ValidationError:
        result = 0
    if not 0 < result < AMOUNT_LIMIT:
        raise PydanticCustomError(
            AMOUNT_RULE, "must be a positive JSON integer of minor units, below 10**22"
        )
    return result


def _iso_date(value: Any) -> date:
    # Lax pydantic would also take a unix timestamp or a datetime string; a due date is a date.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("iso-8601-date", "must be a date written YYYY-MM-DD")


def _count(minimum: int) -> BeforeValidator:
    """Refuses an oversized list before its items are validated, under the service's rule name."""

    def check(value: Any) -> Any:
        if isinstance(value, list) and not minimum <= len(value) <= MAX_DECLARATIONS:
            raise PydanticCustomError(
                "declaration-count",
                "must hold {minimum} to {maximum} customs declarations, not {count}",
                {"minimum": minimum, "maximum": MAX_DECLARATIONS, "count": len(value)},
            )
        return value

    return BeforeValidator(check)


Amount = Annotated[
    int,
    Strict(),
    Field(
        gt=0,
        lt=AMOUNT_LIMIT,
        description="Integer amount in minor units (cents, fen), below 10**22 "
        "(rule `positive-integer-minor-units`).",
    ),
    WrapValidator(_amount),
]
# Bounded so that nobody makes the server normalize megabytes of text; real identifiers are short.
Text = Annotated[str, Strict(), StringConstraints(max_length=256)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
ReceivableId = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=RECEIVABLE_ID_PATTERN),
    _matching(
        RECEIVABLE_ID_PATTERN, "receivable-id-format", "must be 0x followed by 64 hex digits"
    ),
]
TxHash = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=RECEIVABLE_ID_PATTERN),
    _matching(RECEIVABLE_ID_PATTERN, "tx-hash-format", "must be 0x followed by 64 hex digits"),
]
DeclarationNumber = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=DECLARATION_NUMBER_PATTERN),
    _matching(
        DECLARATION_NUMBER_PATTERN,
        "declaration-number-format",
        "must be a customs declaration number: 18 digits",
    ),
    Field(description="18-digit customs declaration number.", examples=["310120260000012345"]),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _InvoiceFields(_Request):
    exporter_uscc: Text = Field(
        description="Exporter's 18-character unified social credit code (GB 32100-2015): format "
        "`uscc`, its check digit validated (rules `uscc-format`, `uscc-check-digit`). Letters in "
        "either case; spaces and separators are ignored.",
        examples=["91350100M000100Y43"],
        json_schema_extra={"format": "uscc"},
    )
    invoice_number: Text = Field(
        description="Invoice number, as printed: format `identifier`, 1 to 128 characters once "
        "upper-cased (Unicode NFKC) and stripped of spaces and separators, no control or "
        "unassigned characters (rules `identifier-empty`, `identifier-too-long`, "
        "`identifier-characters`).",
        examples=["INV-2026-001"],
        json_schema_extra={"format": "identifier"},
    )
    currency: Text = Field(
        description="ISO 4217 alphabetic code of the invoice's currency: format `iso-4217` (rule "
        "`iso-4217`), in either case.",
        examples=["USD"],
        json_schema_extra={"format": "iso-4217"},
    )


class CheckRequest(_InvoiceFields):
    """An invoice and the customs declarations it rests on, to check before financing."""

    declaration_numbers: Annotated[
        list[DeclarationNumber],
        Field(max_length=MAX_DECLARATIONS, json_schema_extra={"uniqueItems": True}),
        _count(0),
    ] = Field(
        default_factory=list,
        description="18-digit customs declaration numbers, each at most once "
        "(rule `declaration-duplicated`).",
    )


class DeclarationIn(_Request):
    number: DeclarationNumber
    value: Amount


class RegisterRequest(_InvoiceFields):
    """An export receivable to register."""

    face_value: Amount
    maturity_date: IsoDate = Field(
        description="Due date (ISO 8601, YYYY-MM-DD), not in the past (rule `maturity-in-past`)."
    )
    declarations: Annotated[
        list[DeclarationIn], Field(min_length=1, max_length=MAX_DECLARATIONS), _count(1)
    ] = Field(
        description="The customs declarations the invoice rests on, each with its value, and "
        "each number at most once (rule `declaration-duplicated`)."
    )


class AmountRequest(_Request):
    amount: Amount


class DeclarationCheckOut(_Response):
    number: str = Field(description="The declaration number, normalized.")
    status: DeclarationStatus
    receivable_id: str | None = Field(description="The receivable the declaration backs, if any.")


class CheckResponse(_Response):
    status: InvoiceStatus
    receivable_id: str | None
    key_version: int | None
    cap: int | None = Field(description="Maximum outstanding financing; null when unknown.")
    outstanding: int | None
    headroom: int | None = Field(
        description="What the asking bank can still draw: 0 unless its institution holds the "
        "receivable (a receivable belongs to the bank that registered it)."
    )
    held_by_you: bool = Field(
        description="Whether the asking bank's institution registered, and so holds, the "
        "receivable: only it may draw on it."
    )
    declarations: list[DeclarationCheckOut]
    as_of_block: int = Field(description="Block whose contract state the answer reflects.")


class ReceivableOut(_Response):
    receivable_id: str
    status: str = Field(examples=["registered", "financed", "settled", "cancelled"])
    key_version: int
    currency: str
    maturity_date: date
    registrant: str | None
    financier: str | None = Field(description="Bank holding outstanding financing, if any.")
    exporter_fingerprint: str
    face_value: int
    declared_value: int
    cap: int
    outstanding: int
    headroom: int
    overdue: bool
    as_of_block: int


_CALL_INDEX = (
    "Which call of the transaction was this request's, counting from 0, when several of the "
    "bank's requests that arrived together went out as one transaction (a multicall); null when "
    "the transaction was this request's alone."
)


class RegisteredOut(_Response):
    receivable_id: str = Field(
        description="The invoice fingerprint, 0x and 64 hex digits.", pattern=RECEIVABLE_ID_PATTERN
    )
    key_version: int
    tx_hash: str
    block_number: int
    call_index: int | None = Field(default=None, description=_CALL_INDEX)


class TransactionOut(_Response):
    amount: int
    tx_hash: str
    block_number: int
    call_index: int | None = Field(default=None, description=_CALL_INDEX)
    receivable: ReceivableOut = Field(
        description="The receivable as it stands at the end of the change's block."
    )


class UnsignedTransactionOut(_Response):
    """A write's transaction as the API would send it, for a bank that signs with its own key: sign
    it as it is (a typed transaction: EIP-1559, or EIP-2930 where the chain has no base fee) and
    send the same request again with the signed bytes in its ``Signed-Transaction`` header."""

    sender: str = Field(description="The bank's account, which must sign it.")
    to: str
    data: str = Field(description="The call, 0x and hex.")
    value: int = 0
    gas: int
    nonce: int = Field(description="The account's next nonce as the node counts it now.")
    chain_id: int
    type: int = Field(description="2 (EIP-1559) or 1 (EIP-2930).")
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None


class Health(_Response):
    status: str
    chain_id: int
    head_block: int
    indexed_block: int | None = Field(description="Last block the indexer stored; null if none.")
    ledger_address: str


class FieldError(BaseModel):
    field: str
    rule: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    type: str = Field(examples=["urn:creditreg:problem:declaration-linked-to-other-invoice"])
    title: str
    status: int
    detail: str
    instance: str
    rule: str
    field: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    errors: list[FieldError] | None = None


# --- property pledges -----------------------------------------------------------------------------


def _hash_id(rule: str) -> Any:
    """An id of 0x and 64 hex digits, refused under ``rule``."""
    return Annotated[
        str,
        Strict(),
        StringConstraints(pattern=RECEIVABLE_ID_PATTERN),
        _matching(RECEIVABLE_ID_PATTERN, rule, "must be 0x followed by 64 hex digits"),
    ]


PropertyId = _hash_id("property-id-format")
"""A property's id: its keyed fingerprint, 0x and 64 hex digits."""
PledgeId = _hash_id("pledge-id-format")
"""A pledge's id, 0x and 64 hex digits."""


def _int_range(low: int, high: int, rule: str) -> Any:
    """An integer from ``low`` to ``high``, refused under ``rule`` (the service's name for it)."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> int:
        try:
            result: int = handler(value)
        except ValidationError:
            result = low - 1
        if not low <= result <= high:
            raise PydanticCustomError(
                rule, "must be an integer from {low} to {high}", {"low": low, "high": high}
            )
        return result

    return Annotated[int, Strict(), Field(ge=low, le=high), WrapValidator(check)]


REGION_CODE_PATTERN = "^[0-9]{6}$"
RegionCode = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=REGION_CODE_PATTERN),
    _matching(REGION_CODE_PATTERN, "region-code-format", "must be 6 digits"),
    Field(
        description="The administrative division code (GB/T 2260) the property lies in: 6 "
        "digits (rule `region-code-format`).",
        examples=["330203"],
    ),
]
CertificateNumber = Annotated[
    Text,
    Field(
        description="The title certificate number, as printed: format `identifier` (rules "
        "`identifier-empty`, `identifier-too-long`, `identifier-characters`).",
        examples=["ZJ-NB-2026-0001234"],
        json_schema_extra={"format": "identifier"},
    ),
]
Currency = Annotated[
    Text,
    Field(
        description="ISO 4217 alphabetic code: format `iso-4217` (rule `iso-4217`).",
        examples=["CNY"],
        json_schema_extra={"format": "iso-4217"},
    ),
]


class PropertyRequest(_Request):
    """A property as the registration center records it (clerk)."""

    region_code: RegionCode
    certificate_number: CertificateNumber
    appraised_value: Amount
    currency: Currency
    max_ltv_bps: _int_range(1, 10_000, "ltv-range") | None = Field(  # type: ignore[valid-type]
        default=None,
        description="Maximum loan-to-value in basis points, 1 to 10000 (rule `ltv-range`); "
        "omitted: the registry's default (7000).",
        examples=[6000],
    )


class PropertyLookup(_Request):
    """A property's plain identifiers, to find its id (under any key version still held)."""

    region_code: RegionCode
    certificate_number: CertificateNumber


class PropertyIdOut(_Response):
    property_id: str = Field(description="The property's keyed fingerprint, 0x and hex.")


class AppraisalRequest(_Request):
    appraised_value: Amount


class PledgeApplication(_Request):
    """A bank's application for a pledge (amount, currency, maturity)."""

    amount: Amount
    currency: Currency
    maturity_date: IsoDate = Field(
        description="The secured loan's due date, YYYY-MM-DD, not past (rules `iso-8601-date`, "
        "`maturity-in-past`).",
        examples=["2027-06-30"],
    )


class RejectionRequest(_Request):
    reason_code: _int_range(100, 65_535, "clerk-reason-code") = Field(  # type: ignore[valid-type]
        description="The clerk's reason code, 100 to 65535 (rule `clerk-reason-code`; codes below "
        "100 are the rules' own: 1 seized, 2 beyond headroom, 3 too many active pledges).",
        examples=[101],
    )


class SeizureRequest(_Request):
    case_number: Annotated[Text, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The court's case number, 1 to 128 characters once normalized; its "
        "keccak-256 names the seizure on chain (rule `case-number-format`).",
        examples=["(2026) Zhe 0203 Zhi 1234"],
    )


class CancelledOut(_Response):
    receivable_id: str
    tx_hash: str
    block_number: int


class AttestationRequest(_Request):
    """What customs attests of a declaration."""

    exporter_uscc: Text = Field(
        description="The exporter customs recorded: its unified social credit code (rules "
        "`uscc-format`, `uscc-check-digit`).",
        examples=["91350100M000100Y43"],
        json_schema_extra={"format": "uscc"},
    )
    value: Amount
    export_date: IsoDate = Field(
        description="The export date, YYYY-MM-DD, not in the future (rules `iso-8601-date`, "
        "`export-date-in-future`).",
        examples=["2026-11-20"],
    )


class AttestedOut(_Response):
    declaration_number: str
    declaration_fingerprint: str
    key_version: int
    value: int
    export_date: date
    tx_hash: str
    block_number: int


class PropertyOut(_Response):
    property_id: str = Field(description="The property's keyed fingerprint, 0x and hex.")
    key_version: int
    tx_hash: str
    block_number: int


class PledgeOut(_Response):
    pledge_id: str
    tx_hash: str
    block_number: int
    approved: bool | None = Field(
        default=None, description="For a decision: whether the rules approved it."
    )
    reason_code: int | None = Field(
        default=None, description="For a rejection: why (rule codes below 100, clerks' above)."
    )


class SeizureOut(_Response):
    property_id: str
    case_ref: str = Field(description="keccak-256 of the normalized case number.")
    tx_hash: str
    block_number: int


class SeizureInForce(_Response):
    case_ref: str
    court: str = Field(description="The seizing court's institution id.")


class TitlePledgeOut(_Response):
    pledge_id: str
    rank: int = Field(description="1 is paid first; juniors move up when a senior is released.")
    institution: str = Field(description="The pledgee bank's institution id.")
    amount: int
    currency: str
    maturity: int = Field(description="Unix seconds of 00:00 UTC on the due date.")


class TitleOut(_Response):
    """A title verification: status, seizures in force, active pledges by rank, headroom."""

    property_id: str
    status: str = Field(description="`normal` or `seized`.")
    seizures: list[SeizureInForce]
    appraised_value: int
    currency: str
    max_ltv_bps: int
    secured_amount: int = Field(description="The active pledges' amounts, summed.")
    headroom: int = Field(
        description="What a new pledge could still secure: appraisal x LTV - secured, at least "
        "0; 0 while seized."
    )
    pledges: list[TitlePledgeOut]
    as_of_block: int


class PledgeStateOut(_Response):
    pledge_id: str
    property_id: str
    status: str = Field(description="`applied`, `active`, `rejected` or `released`.")
    rank: int | None
    institution: str
    amount: int
    currency: str
    maturity: int
    reason_code: int | None
    as_of_block: int


# --- consent --------------------------------------------------------------------------------------

Uscc = Annotated[
    Text,
    Field(
        description="The enterprise's unified social credit code (rules `uscc-format`, "
        "`uscc-check-digit`).",
        examples=["91350100M000100Y43"],
        json_schema_extra={"format": "uscc"},
    ),
]
ADDRESS_PATTERN = "^0x[0-9a-fA-F]{40}$"
SIGNATURE_PATTERN = "^0x([0-9a-fA-F]{2}){1,1024}$"
ConsentScope = Annotated[
    Literal["credit-report"],
    Field(description="What the consent lets the bank read (rule `consent-scope`)."),
]


class EnterpriseBinding(_Request):
    """An enterprise's account, whose key signs its consents (clerk)."""

    uscc: Uscc
    account: Annotated[
        str,
        Strict(),
        StringConstraints(pattern=ADDRESS_PATTERN),
        _matching(ADDRESS_PATTERN, "account-format", "must be a 0x address"),
    ] = Field(examples=["0x" + "ab" * 20])


class BoundOut(_Response):
    enterprise_id: str = Field(description="The enterprise's keyed fingerprint.")
    key_version: int
    account: str
    tx_hash: str
    block_number: int


class ConsentAsk(_Request):
    """What a bank asks an enterprise to consent to."""

    enterprise_uscc: Uscc
    scope: ConsentScope
    expiry_date: IsoDate = Field(
        description="The consent lapses at 00:00 UTC on this date, which must not be past "
        "(rules `iso-8601-date`, `maturity-in-past`).",
        examples=["2027-06-30"],
    )


class RevocationAsk(_Request):
    enterprise_uscc: Uscc
    scope: ConsentScope


Bytes32Hex = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=RECEIVABLE_ID_PATTERN),
    _matching(RECEIVABLE_ID_PATTERN, "message-field", "must be 0x followed by 64 hex digits"),
]


class SignedConsentMessage(_Request):
    """The `message` of the typed data the request gave, unchanged."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    enterprise: Bytes32Hex
    grantee_institution: Bytes32Hex = Field(alias="granteeInstitution")
    scope: Bytes32Hex
    # Bounds a double holds exactly, so that every JSON tool reads the bound the server applies
    # (see AMOUNT_LIMIT); the API's own nonces and expiries are far below.
    expiry: _int_range(0, 10**18, "message-field") | None = Field(  # type: ignore[valid-type]
        default=None, description="Unix seconds (consents only; rule `message-field`)."
    )
    nonce: _int_range(0, 10**18, "message-field") = Field(  # type: ignore[valid-type]
        description="As the request gave it: an integer (rule `message-field`)."
    )


class SignedConsent(_Request):
    """A consent or revocation as the enterprise signed it (EIP-712, `eth_signTypedData_v4`)."""

    message: SignedConsentMessage
    signature: Annotated[
        str,
        Strict(),
        StringConstraints(pattern=SIGNATURE_PATTERN),
        _matching(SIGNATURE_PATTERN, "signature-format", "must be 0x and hex, 1 to 1024 bytes"),
    ]


class RelayedOut(_Response):
    enterprise_id: str
    grantee_institution: str
    scope: str
    nonce: int
    tx_hash: str
    block_number: int


class ConsentStateOut(_Response):
    enterprise_id: str
    grantee_institution: str = Field(description="The asking bank's institution id.")
    scope: str
    active: bool
    expiry: int | None = Field(description="Unix seconds it lapses at; null if never granted.")


# --- a bank's lists -------------------------------------------------------------------------------


class ReceivableEntryOut(_Response):
    receivable_id: str
    status: str
    currency: str
    face_value: int
    declared_value: int
    cap: int = Field(description="As the policy and attestations in force at the block make it.")
    outstanding: int
    registered_block: int


class ReceivablePageOut(_Response):
    items: list[ReceivableEntryOut]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )
    as_of_block: int


class FinancingEntryOut(_Response):
    kind: str = Field(examples=["drawdown", "repayment"])
    amount: int
    outstanding_after: int
    bank: str = Field(description="The account that drew or repaid.")
    block_number: int
    log_index: int
    tx_hash: str


class FinancingPageOut(_Response):
    items: list[FinancingEntryOut]
    next_after: str | None = Field(
        description="Pass as `after` for the next page (`block:log`); null on the last page."
    )
    as_of_block: int
