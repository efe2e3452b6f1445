"""Route dependencies, as typed ``Annotated`` aliases: the services, the caller, the bank.

Authentication: the ``X-API-Key`` header names the caller; its hash is looked up in the database
(:func:`registry.api_keys.lookup`). A missing or unknown key is 401. Authorization is by role: bank
routes take :data:`LenderDep`, and any other role gets 403. The key itself is never logged or
echoed; only the principal it resolves to travels further.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.problems import Unauthenticated
from api.services import Services
from registry.api_keys import Principal, lookup
from registry.chain.client import Signer
from registry.credentials import Role
from registry.errors import AccessDenied
from registry.receivables import ReceivableService

__all__ = [
    "API_KEY_HEADER",
    "Lender",
    "LenderDep",
    "PrincipalDep",
    "ReceivablesDep",
    "ServicesDep",
    "authenticate",
]

API_KEY_HEADER = "X-API-Key"

# auto_error=False: a missing key is answered by our 401 problem, not by FastAPI's own error. The
# scheme still appears in the OpenAPI document, so /docs offers an "Authorize" button.
_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The institution's API key (from the secrets file on a dev stack).",
)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def authenticate(
    services: ServicesDep, api_key: Annotated[str | None, Security(_api_key_scheme)]
) -> Principal:
    if not api_key:
        raise Unauthenticated(f"send your API key in the {API_KEY_HEADER} header")
    principal = lookup(services.engine, api_key)
    if principal is None:
        raise Unauthenticated(f"the {API_KEY_HEADER} header holds no known API key")
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


@dataclass(frozen=True)
class Lender:
    """A bank calling: who it is and the key the API signs its transactions with."""

    principal: Principal
    signer: Signer


def require_lender(principal: PrincipalDep, services: ServicesDep) -> Lender:
    if principal.role is not Role.LENDER:
        raise AccessDenied(
            f"{principal.institution} has the role {principal.role.value}; banks only "
            f"({Role.LENDER.value})",
            required_role=Role.LENDER.value,
            role=principal.role.value,
        )
    return Lender(principal, services.signer_for(principal))


LenderDep = Annotated[Lender, Depends(require_lender)]


def get_receivables(services: ServicesDep) -> ReceivableService:
    return services.receivables


ReceivablesDep = Annotated[ReceivableService, Depends(get_receivables)]
