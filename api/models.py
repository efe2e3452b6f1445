"""The API's request and response bodies.

Requests check shape and JSON types only, strictly: an amount is a JSON integer of minor units
(a float, a boolean, a numeric string or a non-positive number is refused, never coerced); unknown
members are refused, so a misspelt optional field does not pass unseen. Document rules (USCC check
digit, ISO 4217, declaration number format) are the domain service's: it raises them as bad input
naming the same field, and the client sees one problem shape either way. Where the boundary does
refuse (amounts, declaration count, dates) it uses the service's rule names.

Responses are read from the service's dataclasses (``from_attributes``): nothing else leaves the
service, and no database row or chain object reaches a client.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

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
    "AmountRequest",
    "CheckRequest",
    "CheckResponse",
    "DeclarationCheckOut",
    "DeclarationIn",
    "FieldError",
    "Health",
    "Problem",
    "ReceivableOut",
    "RegisterRequest",
    "RegisteredOut",
    "TransactionOut",
]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _amount(value: Any, handler: ValidatorFunctionWrapHandler) -> int:
    # One rule for every way an amount can be wrong, the same one the service raises. The upper
    # bound is checked here, not as a schema constraint: OpenAPI tooling turns 2**96 into a float.
    try:
        result: int = handler(value)
    except ValidationError:
        result = 0
    if not 0 < result <= MAX_AMOUNT:
        raise PydanticCustomError(
            AMOUNT_RULE, "must be a positive JSON integer of minor units, at most 2**96 - 1"
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
    Field(gt=0, description="Integer amount in minor units (cents, fen), at most 2**96 - 1."),
    WrapValidator(_amount),
]
# Bounded so that nobody makes the server normalize megabytes of text; real identifiers are short.
Text = Annotated[str, Strict(), StringConstraints(max_length=256)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _InvoiceFields(_Request):
    exporter_uscc: Text = Field(
        description="Exporter's 18-character unified social credit code (check digit validated).",
        examples=["91350100M000100Y43"],
    )
    invoice_number: Text = Field(
        description="Invoice number, as printed.", examples=["INV-2026-001"]
    )
    currency: Text = Field(description="ISO 4217 currency code of the invoice.", examples=["USD"])


class CheckRequest(_InvoiceFields):
    """An invoice and the customs declarations it rests on, to check before financing."""

    declaration_numbers: Annotated[list[Text], Field(max_length=MAX_DECLARATIONS), _count(0)] = (
        Field(default_factory=list, description="18-digit customs declaration numbers.")
    )


class DeclarationIn(_Request):
    number: Text = Field(
        description="18-digit customs declaration number.", examples=["310120260000012345"]
    )
    value: Amount


class RegisterRequest(_InvoiceFields):
    """An export receivable to register."""

    face_value: Amount
    maturity_date: IsoDate = Field(description="Due date (ISO 8601, YYYY-MM-DD), not in the past.")
    declarations: Annotated[
        list[DeclarationIn], Field(min_length=1, max_length=MAX_DECLARATIONS), _count(1)
    ] = Field(description="The customs declarations the invoice rests on, each with its value.")


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


class RegisteredOut(_Response):
    receivable_id: str = Field(description="The invoice fingerprint, 0x and 64 hex digits.")
    key_version: int
    tx_hash: str
    block_number: int


class TransactionOut(_Response):
    amount: int
    tx_hash: str
    block_number: int
    receivable: ReceivableOut = Field(description="The receivable as it stands after the change.")


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
