"""Route dependencies, as typed ``Annotated`` aliases: the services, the caller in its role.

Authentication happens before the body is read, in :class:`api.authentication.Authentication`:
the ``X-API-Key`` header names the caller, its hash is looked up in the database
(:func:`registry.api_keys.lookup`), and a missing, unknown or revoked key is 401 there.
:func:`authenticate` hands routes the principal it found. Authorization is by role, twice: the
key's role from the table must be the route's (a bank's route takes :data:`LenderDep`, a clerk's
:data:`RegistrarDep`, a court's :data:`EnforcerDep`, customs' :data:`VerifierDep`; any other role
gets 403 ``access-denied``), and the caller's account must hold that role on the contract the
route writes to, on chain (:mod:`api.roles`; 403 ``missing-role`` when revoked), before anything
is signed for it. The key itself is never logged or echoed; only the principal it resolves to
travels further.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from eth_typing import ChecksumAddress
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.authentication import API_KEY_HEADER, principal_of
from api.problems import Unauthenticated
from api.services import Services
from registry.api_keys import Principal
from registry.chain.client import Signer
from registry.consents import ConsentService
from registry.contracts.binding import ConsortiumContract
from registry.contracts.roles import Role
from registry.errors import AccessDenied
from registry.pledges import PledgeService
from registry.receivables import ReceivableService

__all__ = [
    "API_KEY_HEADER",
    "Actor",
    "BindingClerkDep",
    "ConsentDep",
    "EnforcerDep",
    "Lender",
    "LenderDep",
    "PledgeeDep",
    "PrincipalDep",
    "PropertiesDep",
    "ReceivablesDep",
    "RegistrarDep",
    "ServicesDep",
    "VerifierDep",
    "authenticate",
]


# auto_error=False: a missing key is answered by our 401 problem, not by FastAPI's own error. The
# scheme still appears in the OpenAPI document, so /docs offers an "Authorize" button.
_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The institution's API key (from the secrets file on a dev stack).",
)


# Dependencies that neither block nor compute are ``async def``: FastAPI runs a plain ``def``
# dependency in its thread pool, and a hop there and back costs more than these do.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def authenticate(
    request: Request, api_key: Annotated[str | None, Security(_api_key_scheme)]
) -> Principal:
    """The principal the middleware found. ``api_key`` is declared for the OpenAPI document only:
    the middleware has checked it before the body was read."""
    principal = principal_of(request)
    if principal is None:
        # Only a public path has no principal, and no public route depends on this.
        raise Unauthenticated(f"send your API key in the {API_KEY_HEADER} header")
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


@dataclass(frozen=True)
class Actor:
    """An institution calling in its role: who it is, its chain account, and the key the API
    signs its transactions with; None for one that signs them itself (its key in an HSM or a
    wallet), which sends each write signed (:data:`api.writes.SIGNED_TRANSACTION_HEADER`)."""

    principal: Principal
    account: ChecksumAddress
    signer: Signer | None


Lender = Actor
"""A bank calling."""


def _acting(
    principal: Principal, services: Services, role: Role, contract: ConsortiumContract
) -> Actor:
    """``principal`` acting as ``role`` on ``contract``: its key's role must be ``role``
    (403 ``access-denied``) and its account must hold the role there, on chain (403
    ``missing-role``)."""
    if principal.role is not role:
        raise AccessDenied(
            f"{principal.institution} has the role {principal.role.value}; this is for the "
            f"{role.value} role only",
            required_role=role.value,
            role=principal.role.value,
        )
    signer = services.signers.get(principal.institution)
    account = signer.address if signer is not None else principal.account
    if account is None:
        raise AccessDenied(
            f"this API knows no chain account for {principal.institution}",
            institution=principal.institution,
        )
    services.roles.require(contract, role.chain_role, account, principal.institution)
    return Actor(principal, account, signer)


def require_lender(principal: PrincipalDep, services: ServicesDep) -> Actor:
    return _acting(principal, services, Role.LENDER, services.ledger)


def require_verifier(principal: PrincipalDep, services: ServicesDep) -> Actor:
    return _acting(principal, services, Role.VERIFIER, services.ledger)


def require_pledgee(principal: PrincipalDep, services: ServicesDep) -> Actor:
    return _acting(principal, services, Role.LENDER, services.pledges)


def require_registrar(principal: PrincipalDep, services: ServicesDep) -> Actor:
    return _acting(principal, services, Role.REGISTRAR, services.pledges)


def require_binding_clerk(principal: PrincipalDep, services: ServicesDep) -> Actor:
    return _acting(principal, services, Role.REGISTRAR, services.consents)


def require_enforcer(principal: PrincipalDep, services: ServicesDep) -> Actor:
    return _acting(principal, services, Role.ENFORCER, services.pledges)


LenderDep = Annotated[Actor, Depends(require_lender)]
"""A bank, on the ledger."""
VerifierDep = Annotated[Actor, Depends(require_verifier)]
"""Customs, on the ledger."""
PledgeeDep = Annotated[Actor, Depends(require_pledgee)]
"""A bank, on the pledge registry."""
RegistrarDep = Annotated[Actor, Depends(require_registrar)]
"""The registration center's clerk or automated account, on the pledge registry."""
BindingClerkDep = Annotated[Actor, Depends(require_binding_clerk)]
"""The registration center's clerk, on the consent registry (binds enterprises)."""
EnforcerDep = Annotated[Actor, Depends(require_enforcer)]
"""A court or enforcement office, on the pledge registry."""


async def get_receivables(services: ServicesDep) -> ReceivableService:
    return services.receivables


ReceivablesDep = Annotated[ReceivableService, Depends(get_receivables)]


async def get_properties(services: ServicesDep) -> PledgeService:
    return services.properties


PropertiesDep = Annotated[PledgeService, Depends(get_properties)]


async def get_consent(services: ServicesDep) -> ConsentService:
    return services.consent


ConsentDep = Annotated[ConsentService, Depends(get_consent)]
