"""Customs declarations for customs: the attestation of what was exported, by whom, for how much.

An attestation is what makes a declaration *verified* (counted at its attested value, at the
verified advance rate) or an *exporter mismatch* (counted for nothing); the ledger recounts every
receivable the declaration backs at once. The verifier acts on the ledger in its key's role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.routing import APIRoute

from api.deps import ReceivablesDep, ServicesDep, VerifierDep
from api.models import AttestationRequest, AttestedOut, DeclarationNumber
from api.routes.writing import (
    IDEMPOTENCY_PROBLEMS,
    IdempotencyKeyHeader,
    SignedTransactionHeader,
    problem,
    write,
)
from api.writes import Rendered
from registry.receivables import Attested

__all__ = ["router", "write_routes"]

router = APIRouter(prefix="/v1/declarations", tags=["customs declarations"])

DeclarationNumberPath = Annotated[
    DeclarationNumber,
    Path(
        description="The customs declaration number: 18 digits (rule `declaration-number-format`).",
        examples=["310120260000012345"],
    ),
]


@router.post(
    "/{declaration_number}/attestation",
    response_model=AttestedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Attest a customs declaration (customs)",
    operation_id="attest_declaration",
    responses={
        403: problem(
            "The key's role may not do this (`access-denied`), or customs' account no longer "
            "holds its role on chain (`missing-role`)."
        ),
        409: problem("A ledger rule refused it (the rule names it). Nothing was written."),
        **IDEMPOTENCY_PROBLEMS,
    },
)
def attest_declaration(
    request: Request,
    declaration_number: DeclarationNumberPath,
    body: AttestationRequest,
    customs: VerifierDep,
    receivables: ReceivablesDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    signed: SignedTransactionHeader = None,
) -> Response:
    """Records the exporter and value customs saw. A later attestation corrects an earlier
    one; a receivable the declaration backs is recounted at once."""
    call = receivables.prepare_attest(
        declaration_number, body.exporter_uscc, body.value, body.export_date
    )

    def render(attested: Attested) -> Rendered:
        return Rendered(201, AttestedOut.model_validate(attested), {}, attested.block_number)

    return write(
        request, customs, services, services.ledger, idempotency_key, signed, body, call, render
    )


def write_routes() -> list[APIRoute]:
    """The routes that send a transaction (a key's write budget, :mod:`api.rate_limits`)."""
    return [route for route in router.routes if isinstance(route, APIRoute)]
