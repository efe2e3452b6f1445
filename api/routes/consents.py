"""Consent: a registry clerk binds an enterprise's account; a bank asks the enterprise for
consent, hands the API what the enterprise signed in its wallet, and asks whether it holds consent.

Each route is one call into :class:`registry.consents.ConsentService`. The enterprise signs the
EIP-712 typed data that ``/requests`` answers with (``eth_signTypedData_v4``), unchanged; the bank
relays it (paying the gas) through the same write path as its other writes. A bank relays only
what names its own institution as grantee.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.routing import APIRoute

from api.deps import Actor, BindingClerkDep, ConsentDep, LenderDep, ServicesDep
from api.models import (
    BoundOut,
    ConsentAsk,
    ConsentScope,
    ConsentStateOut,
    EnterpriseBinding,
    RelayedOut,
    RevocationAsk,
    SignedConsent,
    Uscc,
)
from api.routes.writing import (
    IDEMPOTENCY_PROBLEMS,
    IdempotencyKeyHeader,
    SignedTransactionHeader,
    problem,
    write,
)
from api.services import Services
from api.writes import Rendered
from registry.consents import Bound, ConsentState, Relayed

__all__ = ["consent_router", "enterprise_router", "write_routes"]

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: problem(
        "The key's role may not do this (`access-denied`), or its account no longer holds the "
        "role on chain (`missing-role`)."
    ),
    404: problem("No account is bound to the enterprise (`enterprise-not-bound`)."),
    409: problem(
        "The consent registry refused it (the rule names it: a signature not the enterprise's, "
        "a nonce used before, an expired consent, ...). Nothing was written."
    ),
}

enterprise_router = APIRouter(prefix="/v1/enterprises", tags=["consent"])
consent_router = APIRouter(prefix="/v1/consents", tags=["consent"])


def _grantee(services: Services, bank: Actor) -> bytes:
    """The asking bank's institution, as the consent registry names it."""
    return services.consents.institution_of(bank.account)


def _relayed(relayed: Relayed) -> Rendered:
    return Rendered(201, RelayedOut.model_validate(relayed), {}, relayed.block_number)


@enterprise_router.post(
    "",
    response_model=BoundOut,
    status_code=status.HTTP_201_CREATED,
    summary="Bind an enterprise's account to its USCC (registry clerk)",
    operation_id="bind_enterprise",
    responses={**_PROBLEMS, **IDEMPOTENCY_PROBLEMS, 409: _PROBLEMS[409]},
)
def bind_enterprise(
    request: Request,
    body: EnterpriseBinding,
    clerk: BindingClerkDep,
    consent: ConsentDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """The account's key signs the enterprise's consents from now on; binding another account
    later voids the consents signed before."""
    call = consent.prepare_bind(body.uscc, body.account)

    def render(bound: Bound) -> Rendered:
        return Rendered(201, BoundOut.model_validate(bound), {}, bound.block_number)

    return write(
        request, clerk, services, services.consents, idempotency_key, signed, body, call, render
    )


@consent_router.post(
    "/requests",
    summary="The consent an enterprise signs for you (EIP-712 typed data)",
    operation_id="request_consent",
    responses={403: _PROBLEMS[403], 404: _PROBLEMS[404]},
)
def request_consent(
    body: ConsentAsk, bank: LenderDep, consent: ConsentDep, services: ServicesDep
) -> dict[str, Any]:
    """Typed data naming your institution as grantee, with a fresh nonce: the enterprise signs
    it as it is (`eth_signTypedData_v4`) and you send `message` and the signature to
    `POST /v1/consents`."""
    return consent.consent_request(
        body.enterprise_uscc, _grantee(services, bank), body.scope, body.expiry_date
    )


@consent_router.post(
    "/revocation-requests",
    summary="The revocation an enterprise signs (EIP-712 typed data)",
    operation_id="request_revocation",
    responses={403: _PROBLEMS[403], 404: _PROBLEMS[404]},
)
def request_revocation(
    body: RevocationAsk, bank: LenderDep, consent: ConsentDep, services: ServicesDep
) -> dict[str, Any]:
    """Typed data withdrawing the enterprise's consent to your institution."""
    return consent.revocation_request(body.enterprise_uscc, _grantee(services, bank), body.scope)


@consent_router.post(
    "",
    response_model=RelayedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Relay a consent the enterprise signed (bank)",
    operation_id="relay_consent",
    responses={**_PROBLEMS, **IDEMPOTENCY_PROBLEMS, 409: _PROBLEMS[409]},
)
def relay_consent(
    request: Request,
    body: SignedConsent,
    bank: LenderDep,
    consent: ConsentDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Recorded on chain once the contract has checked the signature against the enterprise's
    bound account (422 `consent-grantee` for a consent naming another institution)."""
    message = body.message.model_dump(by_alias=True)
    call = consent.prepare_grant(_grantee(services, bank), message, body.signature)
    return write(
        request, bank, services, services.consents, idempotency_key, signed, body, call, _relayed
    )


@consent_router.post(
    "/revocations",
    response_model=RelayedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Relay a revocation the enterprise signed (bank)",
    operation_id="relay_revocation",
    responses={**_PROBLEMS, **IDEMPOTENCY_PROBLEMS, 409: _PROBLEMS[409]},
)
def relay_revocation(
    request: Request,
    body: SignedConsent,
    bank: LenderDep,
    consent: ConsentDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """The consent no longer holds from its block on."""
    message = body.message.model_dump(by_alias=True)
    call = consent.prepare_revoke(_grantee(services, bank), message, body.signature)
    return write(
        request, bank, services, services.consents, idempotency_key, signed, body, call, _relayed
    )


@consent_router.get(
    "/status",
    response_model=ConsentStateOut,
    summary="Whether you hold an enterprise's consent now",
    operation_id="consent_status",
    responses={403: _PROBLEMS[403], 404: _PROBLEMS[404]},
)
def consent_status(
    enterprise_uscc: Annotated[Uscc, Query()],
    scope: Annotated[ConsentScope, Query()],
    bank: LenderDep,
    consent: ConsentDep,
    services: ServicesDep,
) -> ConsentState:
    """Judged by the server's clock: an expired consent no longer holds, whatever the chain's
    last block."""
    return consent.status(enterprise_uscc, _grantee(services, bank), scope)


_WRITES = (bind_enterprise, relay_consent, relay_revocation)


def write_routes() -> list[APIRoute]:
    """The routes that send a transaction (a key's write budget, :mod:`api.rate_limits`)."""
    return [
        route
        for router in (enterprise_router, consent_router)
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint in _WRITES
    ]
