"""Property pledges: the registration center's clerks register properties and decide pledges, banks
apply for pledges and release them, courts seize and lift, and anyone with a key verifies a title.

Each route is one call into :class:`registry.pledges.PledgeService`. Writes go through the same
path as the ledger's (:mod:`api.routes.writing`: ``Idempotency-Key``, ``Signed-Transaction``, the
answer once the index has the block); the caller acts in its key's role, whose chain role it must
hold on the pledge registry. Reads come from the index and take ``as_of_block``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.routing import APIRoute

from api.deps import (
    EnforcerDep,
    PledgeeDep,
    PropertiesDep,
    RegistrarDep,
    ServicesDep,
    authenticate,
)
from api.models import (
    AppraisalRequest,
    PledgeApplication,
    PledgeId,
    PledgeOut,
    PledgeStateOut,
    PropertyId,
    PropertyIdOut,
    PropertyLookup,
    PropertyOut,
    PropertyRequest,
    RejectionRequest,
    SeizureOut,
    SeizureRequest,
    TitleOut,
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
from api.writes import Rendered
from registry.pledges import (
    PledgeRecorded,
    PledgeView,
    PropertyRecorded,
    SeizureRecorded,
    TitleView,
)

__all__ = ["pledge_router", "property_router", "write_routes"]

T = TypeVar("T")

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: problem(
        "The key's role may not do this (`access-denied`), its account no longer holds the role on "
        "chain (`missing-role`), or the pledge is another bank's (`release-not-authorized`)."
    ),
    404: problem("No such property (`property-not-found`) or pledge (`pledge-not-found`)."),
    409: problem(
        "A registry rule refused it (the rule names it: `property-seized`, "
        "`pledge-exceeds-headroom`, ...). Nothing was written."
    ),
}
_WRITE_PROBLEMS = {**_PROBLEMS, **IDEMPOTENCY_PROBLEMS, 409: _PROBLEMS[409]}

PropertyIdPath = Annotated[
    PropertyId,
    Path(
        description="The property's id: its keyed fingerprint, 0x and 64 hex digits (rule "
        "`property-id-format`).",
        examples=["0x" + "51" * 32],
    ),
]
PledgeIdPath = Annotated[
    PledgeId,
    Path(
        description="The pledge's id, 0x and 64 hex digits (rule `pledge-id-format`).",
        examples=["0x" + "7e" * 32],
    ),
]
property_router = APIRouter(prefix="/v1/properties", tags=["property pledges"])
pledge_router = APIRouter(prefix="/v1/pledges", tags=["property pledges"])


def _property(code: int) -> Callable[[PropertyRecorded], Rendered]:
    def render(recorded: PropertyRecorded) -> Rendered:
        location = {"Location": f"{property_router.prefix}/{recorded.property_id}/title"}
        return Rendered(code, PropertyOut.model_validate(recorded), location, recorded.block_number)

    return render


def _pledge(recorded: PledgeRecorded) -> Rendered:
    location = {"Location": f"{pledge_router.prefix}/{recorded.pledge_id}"}
    return Rendered(201, PledgeOut.model_validate(recorded), location, recorded.block_number)


def _seizure(code: int) -> Callable[[SeizureRecorded], Rendered]:
    def render(recorded: SeizureRecorded) -> Rendered:
        return Rendered(code, SeizureOut.model_validate(recorded), {}, recorded.block_number)

    return render


# --- properties ----------------------------------------------------------------------------------


@property_router.post(
    "",
    response_model=PropertyOut,
    status_code=status.HTTP_201_CREATED,
    summary="Register a property (registry clerk)",
    operation_id="register_property",
    responses=_WRITE_PROBLEMS,
)
def register_property(
    request: Request,
    body: PropertyRequest,
    clerk: RegistrarDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Records the property under the keyed fingerprint of its region and certificate number,
    with its appraisal and maximum loan-to-value. Refused (409 `property-already-registered`)
    for a property registered before."""
    call = properties.prepare_register_property(
        body.region_code,
        body.certificate_number,
        body.appraised_value,
        body.currency,
        body.max_ltv_bps,
    )
    return write(
        request,
        clerk,
        services,
        services.pledges,
        idempotency_key,
        signed,
        body,
        call,
        _property(201),
    )


@property_router.post(
    "/lookup",
    response_model=PropertyIdOut,
    summary="Find a property's id from its region and certificate number",
    operation_id="find_property",
    responses={404: _PROBLEMS[404]},
    dependencies=[Depends(authenticate)],
)
def find_property(body: PropertyLookup, properties: PropertiesDep) -> PropertyIdOut:
    """The id it was registered under, whichever fingerprint key version made it."""
    return PropertyIdOut(
        property_id=properties.find_property(body.region_code, body.certificate_number)
    )


@property_router.put(
    "/{property_id}/appraisal",
    response_model=PropertyOut,
    summary="Record a new appraisal (registry clerk)",
    operation_id="update_appraisal",
    responses=_WRITE_PROBLEMS,
)
def update_appraisal(
    request: Request,
    property_id: PropertyIdPath,
    body: AppraisalRequest,
    clerk: RegistrarDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """A lower appraisal leaves the pledges in force; new ones wait for headroom."""
    call = properties.prepare_update_appraisal(property_id, body.appraised_value)
    return write(
        request,
        clerk,
        services,
        services.pledges,
        idempotency_key,
        signed,
        body,
        call,
        _property(200),
    )


@property_router.get(
    "/{property_id}/title",
    response_model=TitleOut,
    summary="Verify a title",
    operation_id="get_title",
    responses={404: _PROBLEMS[404]},
    dependencies=[Depends(authenticate)],
)
def get_title(
    property_id: PropertyIdPath, properties: PropertiesDep, as_of_block: AsOfBlock = None
) -> TitleView:
    """Status, seizures in force, the active pledges by rank (1 is paid first) with their
    amounts, and the headroom left, as the index holds them now or at `as_of_block`."""
    return properties.title(property_id, as_of_block)


@property_router.post(
    "/{property_id}/pledges",
    response_model=PledgeOut,
    status_code=status.HTTP_201_CREATED,
    summary="Apply for a pledge (bank)",
    operation_id="apply_for_pledge",
    responses=_WRITE_PROBLEMS,
)
def apply_for_pledge(
    request: Request,
    property_id: PropertyIdPath,
    body: PledgeApplication,
    bank: PledgeeDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """The application waits for a clerk's (or the automated registrar's) decision."""
    call = properties.prepare_apply(property_id, body.amount, body.currency, body.maturity_date)
    return write(
        request, bank, services, services.pledges, idempotency_key, signed, body, call, _pledge
    )


@property_router.post(
    "/{property_id}/seizures",
    response_model=SeizureOut,
    status_code=status.HTTP_201_CREATED,
    summary="Seize a property under a case (court)",
    operation_id="seize_property",
    responses=_WRITE_PROBLEMS,
)
def seize_property(
    request: Request,
    property_id: PropertyIdPath,
    body: SeizureRequest,
    court: EnforcerDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """A seized property takes no new pledge; those in force stay. Several courts may seize it,
    each under its own case."""
    call = properties.prepare_seize(property_id, body.case_number)
    return write(
        request,
        court,
        services,
        services.pledges,
        idempotency_key,
        signed,
        body,
        call,
        _seizure(201),
    )


@property_router.post(
    "/{property_id}/seizures/lift",
    response_model=SeizureOut,
    summary="Lift a seizure (the court that imposed it)",
    operation_id="lift_seizure",
    responses=_WRITE_PROBLEMS,
)
def lift_seizure(
    request: Request,
    property_id: PropertyIdPath,
    body: SeizureRequest,
    court: EnforcerDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Only the seizing court (or the admin) lifts its seizure; the property is normal again
    once no seizure is in force."""
    call = properties.prepare_unseize(property_id, body.case_number)
    return write(
        request,
        court,
        services,
        services.pledges,
        idempotency_key,
        signed,
        body,
        call,
        _seizure(200),
    )


# --- pledges -------------------------------------------------------------------------------------


@pledge_router.get(
    "/{pledge_id}",
    response_model=PledgeStateOut,
    summary="Read a pledge",
    operation_id="get_pledge",
    responses={404: _PROBLEMS[404]},
    dependencies=[Depends(authenticate)],
)
def get_pledge(
    pledge_id: PledgeIdPath, properties: PropertiesDep, as_of_block: AsOfBlock = None
) -> PledgeView:
    """Its status (`applied`, `active`, `rejected`, `released`), rank while active, and amounts."""
    return properties.pledge(pledge_id, as_of_block)


def _decision_route(
    path: str, summary: str, operation_id: str
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    return pledge_router.post(
        path,
        response_model=PledgeOut,
        status_code=status.HTTP_201_CREATED,
        summary=summary,
        operation_id=operation_id,
        responses=_WRITE_PROBLEMS,
    )


@_decision_route("/{pledge_id}/approval", "Approve a pledge (registry clerk)", "approve_pledge")
def approve_pledge(
    request: Request,
    pledge_id: PledgeIdPath,
    clerk: RegistrarDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Refused (409) on a seized property (`property-seized`) or beyond appraisal x LTV
    (`pledge-exceeds-headroom`). The pledge ranks after the active ones."""
    call = properties.prepare_approve(pledge_id)
    return write(
        request, clerk, services, services.pledges, idempotency_key, signed, NoBody(), call, _pledge
    )


@_decision_route("/{pledge_id}/rejection", "Reject a pledge (registry clerk)", "reject_pledge")
def reject_pledge(
    request: Request,
    pledge_id: PledgeIdPath,
    body: RejectionRequest,
    clerk: RegistrarDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Recorded with the clerk's reason code."""
    call = properties.prepare_reject(pledge_id, body.reason_code)
    return write(
        request, clerk, services, services.pledges, idempotency_key, signed, body, call, _pledge
    )


@_decision_route(
    "/{pledge_id}/decision", "Let the rules decide (automated registrar)", "decide_pledge"
)
def decide_pledge(
    request: Request,
    pledge_id: PledgeIdPath,
    clerk: RegistrarDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Approved when every rule passes, else rejected and the rule's reason code recorded on
    chain (`approved`, `reason_code` in the answer): no human intervention."""
    call = properties.prepare_decide(pledge_id)
    return write(
        request, clerk, services, services.pledges, idempotency_key, signed, NoBody(), call, _pledge
    )


@_decision_route("/{pledge_id}/release", "Release a pledge (the pledgee bank)", "release_pledge")
def release_pledge(
    request: Request,
    pledge_id: PledgeIdPath,
    bank: PledgeeDep,
    properties: PropertiesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Only the pledgee bank (`release-not-authorized` for another); its juniors move up."""
    call = properties.prepare_release(pledge_id)
    return write(
        request, bank, services, services.pledges, idempotency_key, signed, NoBody(), call, _pledge
    )


_WRITES = (
    register_property,
    update_appraisal,
    apply_for_pledge,
    seize_property,
    lift_seizure,
    approve_pledge,
    reject_pledge,
    decide_pledge,
    release_pledge,
)


def write_routes() -> list[APIRoute]:
    """The routes that send a transaction (a key's write budget, :mod:`api.rate_limits`)."""
    return [
        route
        for router in (property_router, pledge_router)
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint in _WRITES
    ]
