"""Export receivables for banks: check, register, finance, repay, read.

Each route is one call into :class:`registry.receivables.ReceivableService`; what it refuses comes
back as a problem (:mod:`api.problems`). Every route takes an API key; all but the read need the
``lender`` role, and the bank acts under its own chain account (the API signs with its key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from api.deps import LenderDep, ReceivablesDep, authenticate
from api.models import (
    AmountRequest,
    CheckRequest,
    CheckResponse,
    Problem,
    ReceivableOut,
    RegisteredOut,
    RegisterRequest,
    TransactionOut,
)
from registry.receivables import (
    DeclarationInput,
    DuplicateCheck,
    Receivable,
    Registered,
    TransactionRecorded,
)

__all__ = ["router"]


def _problem(description: str) -> dict[str, Any]:
    # Documented under application/problem+json by api.problems.problem_openapi.
    return {"model": Problem, "description": description}


_AUTH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: _problem("No API key, or an unknown one."),
    403: _problem("The key's role may not do this."),
    422: _problem("A field breaks a rule; `field` and `rule` name it."),
    503: _problem("The chain node is unreachable."),
}
_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: _problem("No such receivable."),
    409: _problem(
        "A ledger rule refused it. Nothing was written but, for an attempt to double- or "
        "over-finance, the refusal itself, recorded on chain for auditors."
    ),
}

ReceivableIdPath = Annotated[
    str,
    Path(
        description="The receivable's id: its invoice fingerprint, 0x and 64 hex digits.",
        examples=["0x" + "ab" * 32],
    ),
]

router = APIRouter(prefix="/v1/receivables", tags=["receivables"], responses=_AUTH_PROBLEMS)


@router.post(
    "/check",
    response_model=CheckResponse,
    summary="Check an invoice and its customs declarations for duplicate financing",
)
def check_receivable(
    body: CheckRequest, lender: LenderDep, receivables: ReceivablesDep
) -> DuplicateCheck:
    """Whether the invoice is unknown, registered, financed by you or by another bank, with the
    headroom left for you, and which invoice each declaration backs. Read from the contract."""
    return receivables.check(
        lender.signer.address,
        exporter_uscc=body.exporter_uscc,
        invoice_number=body.invoice_number,
        currency=body.currency,
        declaration_numbers=body.declaration_numbers,
    )


@router.post(
    "",
    response_model=RegisteredOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register an export receivable",
    responses={409: _WRITE_PROBLEMS[409]},
)
def register_receivable(
    body: RegisterRequest, lender: LenderDep, receivables: ReceivablesDep, response: Response
) -> Registered:
    """Registers the invoice with the customs declarations it rests on. Refused (409), and the
    refusal recorded on chain, when the invoice is already registered or a declaration backs
    another invoice or is attested for another exporter."""
    registered = receivables.register(
        lender.signer,
        exporter_uscc=body.exporter_uscc,
        invoice_number=body.invoice_number,
        currency=body.currency,
        face_value=body.face_value,
        maturity_date=body.maturity_date,
        declarations=[DeclarationInput(d.number, d.value) for d in body.declarations],
    )
    response.headers["Location"] = f"{router.prefix}/{registered.receivable_id}"
    return registered


@router.post(
    "/{receivable_id}/financings",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Draw financing on a receivable",
    responses=_WRITE_PROBLEMS,
)
def finance_receivable(
    receivable_id: ReceivableIdPath,
    body: AmountRequest,
    lender: LenderDep,
    receivables: ReceivablesDep,
) -> TransactionRecorded:
    """Refused (409), and the refusal recorded on chain, beyond the cap (face value x the advance
    rate, and each declaration's value x the rate for verified or unverified declarations) or
    while another bank holds financing on it."""
    return receivables.finance(lender.signer, receivable_id, body.amount)


@router.post(
    "/{receivable_id}/repayments",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a repayment",
    responses=_WRITE_PROBLEMS,
)
def repay_receivable(
    receivable_id: ReceivableIdPath,
    body: AmountRequest,
    lender: LenderDep,
    receivables: ReceivablesDep,
) -> TransactionRecorded:
    """Only the financing bank records repayments, at most what is outstanding; at zero the
    receivable is settled and any bank may finance it again."""
    return receivables.repay(lender.signer, receivable_id, body.amount)


@router.get(
    "/{receivable_id}",
    response_model=ReceivableOut,
    summary="Read a receivable",
    responses={404: _WRITE_PROBLEMS[404]},
    # Any authenticated institution may read; who asks does not change the answer.
    dependencies=[Depends(authenticate)],
)
def get_receivable(receivable_id: ReceivableIdPath, receivables: ReceivablesDep) -> Receivable:
    """The receivable as the contract holds it now."""
    return receivables.get(receivable_id)
