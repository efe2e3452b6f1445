"""Export receivables for banks: check, register, finance, repay, read.

Each route is one call into :class:`registry.receivables.ReceivableService`; what it refuses comes
back as a problem (:mod:`api.problems`). Every route takes an API key; all but the read need the
``lender`` role, and the bank acts under its own chain account (the API signs with its key).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor

from api.deps import Lender, LenderDep, ReceivablesDep, ServicesDep, authenticate
from api.models import (
    AmountRequest,
    CancelledOut,
    CheckRequest,
    CheckResponse,
    FinancingPageOut,
    ReceivableId,
    ReceivableOut,
    ReceivablePageOut,
    RegisteredOut,
    RegisterRequest,
    TransactionOut,
    UnsignedTransactionOut,
)
from api.routes.reading import AsOfBlock
from api.routes.writing import (
    IDEMPOTENCY_PROBLEMS,
    IdempotencyKeyHeader,
    NoBody,
    SignedTransactionHeader,
    problem,
    write,
)
from api.services import Services
from api.writes import Rendered
from registry.contracts.binding import Call
from registry.history import FinancingEntry, Page, ReceivableEntry
from registry.receivables import (
    Cancelled,
    DeclarationInput,
    DuplicateCheck,
    Receivable,
    ReceivableService,
    Registered,
    TransactionRecorded,
)

__all__ = ["router", "write_routes"]

T = TypeVar("T")


# 400, 401, 413, 422, 429 and 503 are the same on every route that takes a key, and are documented
# once, for all of them, by api.problems.problem_openapi; these are the routes' own.
_BANK_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: problem(
        "The key's role may not do this (`access-denied`), or the bank's account no longer holds "
        "its role on chain (`missing-role`)."
    ),
}
_WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: problem("No such receivable."),
    409: problem(
        "A ledger rule refused it. Nothing was written but, for an attempt to double- or "
        "over-finance, the refusal itself, recorded on chain for auditors."
    ),
}

ReceivableIdPath = Annotated[
    ReceivableId,
    Path(
        description="The receivable's id: its invoice fingerprint, 0x and 64 hex digits (rule "
        "`receivable-id-format`).",
        examples=["0x" + "ab" * 32],
    ),
]


def _links(receivable_id: str) -> dict[str, Any]:
    """OpenAPI links from an answer naming a receivable (at the JSON pointer ``receivable_id``)
    to the operations on it: how a client, and schemathesis's stateful phase, go on from it."""
    return {
        name: {
            "operationId": operation,
            "parameters": {"receivable_id": f"$response.body#/{receivable_id}"},
            "description": description,
        }
        for name, operation, description in (
            ("GetReceivable", "get_receivable", "Read the receivable."),
            ("FinanceReceivable", "finance_receivable", "Draw financing on it."),
            ("RepayReceivable", "repay_receivable", "Record a repayment on it."),
        )
    }


class _ReceivableIdSegment(Convertor[str]):
    """The path segment a read takes as a receivable id: one that starts ``0x``, as every id does.
    A word there is another resource's path: ``GET /v1/receivables/check`` is a method the
    duplicate check's path does not take (405, with ``Allow: POST``), not the read of a receivable
    named "check" (422). A malformed id that starts ``0x`` is still read as one, and refused as
    such (422 ``receivable-id-format``); anything else is no resource (404)."""

    regex = "0x[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("receivable_id", _ReceivableIdSegment())

_IN_ANSWER = "receivable/receivable_id"
"""Where a financing's or a repayment's answer names its receivable."""

router = APIRouter(prefix="/v1/receivables", tags=["receivables"])


@router.post(
    "/check",
    response_model=CheckResponse,
    summary="Check an invoice and its customs declarations for duplicate financing",
    operation_id="check_receivable",
    responses=_BANK_PROBLEMS,
)
def check_receivable(
    body: CheckRequest, lender: LenderDep, receivables: ReceivablesDep
) -> DuplicateCheck:
    """Whether the invoice is unknown, registered, financed by you or by another bank, with the
    headroom left for you, and which invoice each declaration backs. Read from the contract."""
    return receivables.check(
        lender.account,
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
    operation_id="register_receivable",
    responses={
        201: {
            "description": "Registered, and the index holds it.",
            "headers": {
                "Location": {
                    "description": "The receivable's URL.",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "links": _links("receivable_id"),
        },
        **_BANK_PROBLEMS,
        409: _WRITE_PROBLEMS[409],
        **IDEMPOTENCY_PROBLEMS,
    },
)
def register_receivable(
    request: Request,
    body: RegisterRequest,
    lender: LenderDep,
    receivables: ReceivablesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Registers the invoice with the customs declarations it rests on. Refused (409), and the
    refusal recorded on chain, when the invoice is already registered or a declaration backs
    another invoice or is attested for another exporter."""
    call = _registration(receivables, body)

    def render(registered: Registered) -> Rendered:
        location = {"Location": f"{router.prefix}/{registered.receivable_id}"}
        out = RegisteredOut.model_validate(registered)
        return Rendered(201, out, location, registered.block_number)

    return write(
        request, lender, services, services.ledger, idempotency_key, signed, body, call, render
    )


@router.post(
    "/{receivable_id}/financings",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Draw financing on a receivable",
    operation_id="finance_receivable",
    responses={
        201: {"description": "Recorded, and the index holds it.", "links": _links(_IN_ANSWER)},
        **_BANK_PROBLEMS,
        **_WRITE_PROBLEMS,
        **IDEMPOTENCY_PROBLEMS,
    },
)
def finance_receivable(
    request: Request,
    receivable_id: ReceivableIdPath,
    body: AmountRequest,
    lender: LenderDep,
    receivables: ReceivablesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Refused (409), and the refusal recorded on chain, beyond the cap (face value x the advance
    rate, and each declaration's value x the rate for verified or unverified declarations) or
    while another bank holds financing on it."""
    call = receivables.prepare_finance(receivable_id, body.amount)
    return write(
        request,
        lender,
        services,
        services.ledger,
        idempotency_key,
        signed,
        body,
        call,
        _transaction,
    )


@router.post(
    "/{receivable_id}/repayments",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a repayment",
    operation_id="repay_receivable",
    responses={
        201: {"description": "Recorded, and the index holds it.", "links": _links(_IN_ANSWER)},
        **_BANK_PROBLEMS,
        **_WRITE_PROBLEMS,
        **IDEMPOTENCY_PROBLEMS,
    },
)
def repay_receivable(
    request: Request,
    receivable_id: ReceivableIdPath,
    body: AmountRequest,
    lender: LenderDep,
    receivables: ReceivablesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Only the financing bank records repayments, at most what is outstanding; at zero the
    receivable is settled and any bank may finance it again."""
    call = receivables.prepare_repay(receivable_id, body.amount)
    return write(
        request,
        lender,
        services,
        services.ledger,
        idempotency_key,
        signed,
        body,
        call,
        _transaction,
    )


@router.post(
    "/{receivable_id}/cancellation",
    response_model=CancelledOut,
    status_code=status.HTTP_201_CREATED,
    summary="Cancel a receivable nothing is drawn on",
    operation_id="cancel_receivable",
    responses={
        201: {"description": "Cancelled, and the index holds it."},
        **_BANK_PROBLEMS,
        **_WRITE_PROBLEMS,
        **IDEMPOTENCY_PROBLEMS,
    },
)
def cancel_receivable(
    request: Request,
    receivable_id: ReceivableIdPath,
    lender: LenderDep,
    receivables: ReceivablesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Only the registering bank, and only a receivable never financed (409
    `receivable-not-cancellable` otherwise); its declarations may back another invoice again."""
    call = receivables.prepare_cancel(receivable_id)

    def render(cancelled: Cancelled) -> Rendered:
        return Rendered(201, CancelledOut.model_validate(cancelled), {}, cancelled.block_number)

    return write(
        request, lender, services, services.ledger, idempotency_key, signed, NoBody(), call, render
    )


def _transaction(recorded: TransactionRecorded) -> Rendered:
    return Rendered(201, TransactionOut.model_validate(recorded), {}, recorded.block_number)


def _registration(receivables: ReceivableService, body: RegisterRequest) -> Call[Registered]:
    return receivables.prepare_register(
        exporter_uscc=body.exporter_uscc,
        invoice_number=body.invoice_number,
        currency=body.currency,
        face_value=body.face_value,
        maturity_date=body.maturity_date,
        declarations=[DeclarationInput(d.number, d.value) for d in body.declarations],
    )


# --- for a bank that signs itself -----------------------------------------------------------------

_UNSIGNED_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **_BANK_PROBLEMS,
    404: _WRITE_PROBLEMS[404],
    409: problem("A ledger rule refuses it already: nothing to sign."),
}


def _unsigned(services: Services, lender: Lender, call: Call[Any]) -> UnsignedTransactionOut:
    tx: Any = services.ledger.chain.unsigned(lender.account, call.function)
    return UnsignedTransactionOut(
        sender=lender.account,
        to=tx["to"],
        data="0x" + bytes(tx["data"]).hex(),
        value=tx["value"],
        gas=tx["gas"],
        nonce=tx["nonce"],
        chain_id=tx["chainId"],
        type=tx["type"],
        max_fee_per_gas=tx.get("maxFeePerGas"),
        max_priority_fee_per_gas=tx.get("maxPriorityFeePerGas"),
        gas_price=tx.get("gasPrice"),
    )


@router.post(
    "/unsigned",
    response_model=UnsignedTransactionOut,
    summary="The registration's transaction, unsigned, for a bank that signs itself",
    operation_id="register_receivable_unsigned",
    responses=_UNSIGNED_PROBLEMS,
)
def register_receivable_unsigned(
    body: RegisterRequest, lender: LenderDep, receivables: ReceivablesDep, services: ServicesDep
) -> UnsignedTransactionOut:
    """What `POST /v1/receivables` would send for you, estimated now: sign it and send that
    request with it in the `Signed-Transaction` header."""
    return _unsigned(services, lender, _registration(receivables, body))


@router.post(
    "/{receivable_id}/financings/unsigned",
    response_model=UnsignedTransactionOut,
    summary="A drawdown's transaction, unsigned, for a bank that signs itself",
    operation_id="finance_receivable_unsigned",
    responses=_UNSIGNED_PROBLEMS,
)
def finance_receivable_unsigned(
    receivable_id: ReceivableIdPath,
    body: AmountRequest,
    lender: LenderDep,
    receivables: ReceivablesDep,
    services: ServicesDep,
) -> UnsignedTransactionOut:
    """What `POST /v1/receivables/{receivable_id}/financings` would send for you."""
    return _unsigned(services, lender, receivables.prepare_finance(receivable_id, body.amount))


@router.post(
    "/{receivable_id}/repayments/unsigned",
    response_model=UnsignedTransactionOut,
    summary="A repayment's transaction, unsigned, for a bank that signs itself",
    operation_id="repay_receivable_unsigned",
    responses=_UNSIGNED_PROBLEMS,
)
def repay_receivable_unsigned(
    receivable_id: ReceivableIdPath,
    body: AmountRequest,
    lender: LenderDep,
    receivables: ReceivablesDep,
    services: ServicesDep,
) -> UnsignedTransactionOut:
    """What `POST /v1/receivables/{receivable_id}/repayments` would send for you."""
    return _unsigned(services, lender, receivables.prepare_repay(receivable_id, body.amount))


@router.get(
    "/{receivable_id:receivable_id}",
    response_model=ReceivableOut,
    summary="Read a receivable",
    operation_id="get_receivable",
    responses={404: _WRITE_PROBLEMS[404]},
    # Any authenticated institution may read; who asks does not change the answer.
    dependencies=[Depends(authenticate)],
)
def get_receivable(receivable_id: ReceivableIdPath, receivables: ReceivablesDep) -> Receivable:
    """The receivable as the contract holds it now."""
    return receivables.get(receivable_id)


Limit = Annotated[
    int,
    Query(
        description="Items per page, 1 to 200 (rule `page-size`).",
        json_schema_extra={"minimum": 1, "maximum": 200},
    ),
]
ReceivableAfter = Annotated[
    str | None,
    Query(
        description="Where the page starts: a previous page's `next_after`, a receivable id "
        "(rule `page-after`).",
        json_schema_extra={"pattern": "^0x[0-9a-fA-F]{64}$"},
    ),
]
FinancingAfter = Annotated[
    str | None,
    Query(
        description="Where the page starts: a previous page's `next_after`, `block:log` (rule "
        "`page-after`).",
        json_schema_extra={"pattern": "^[0-9]{1,19}:[0-9]{1,9}$"},
    ),
]


@router.get(
    "",
    response_model=ReceivablePageOut,
    summary="Your receivables, a page at a time",
    operation_id="list_receivables",
    responses=_BANK_PROBLEMS,
)
def list_receivables(
    lender: LenderDep,
    services: ServicesDep,
    in_status: Annotated[
        str | None,
        Query(
            alias="status",
            description="Only those in this status (rule `receivable-status`).",
            json_schema_extra={"enum": ["registered", "financed", "settled", "cancelled"]},
            examples=["financed"],
        ),
    ] = None,
    after: ReceivableAfter = None,
    limit: Limit = 50,
    as_of_block: AsOfBlock = None,
) -> Page[ReceivableEntry]:
    """The receivables your account registered, by id, with caps as the policy and attestations
    in force at the block make them; from the index."""
    return services.history.receivables_of(
        lender.account, status=in_status, after=after, limit=limit, as_of_block=as_of_block
    )


@router.get(
    "/{receivable_id}/financings",
    response_model=FinancingPageOut,
    summary="A receivable's drawdowns and repayments, a page at a time",
    operation_id="list_financings",
    responses=_BANK_PROBLEMS,
)
def list_financings(
    receivable_id: ReceivableIdPath,
    lender: LenderDep,
    services: ServicesDep,
    after: FinancingAfter = None,
    limit: Limit = 50,
    as_of_block: AsOfBlock = None,
) -> Page[FinancingEntry]:
    """In chain order, each with the outstanding balance after it; from the index. What every
    consortium member can read on chain, served to any bank."""
    return services.history.financings_of(
        receivable_id, after=after, limit=limit, as_of_block=as_of_block
    )


_WRITES = (register_receivable, finance_receivable, repay_receivable, cancel_receivable)


def write_routes() -> list[APIRoute]:
    """The routes that send a transaction: they draw on a key's write budget too
    (:mod:`api.rate_limits`)."""
    return [
        route
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint in _WRITES
    ]
