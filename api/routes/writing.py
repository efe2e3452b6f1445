"""What every write route shares: its headers (``Idempotency-Key``, ``Signed-Transaction``), the
problems it documents, and the one call that performs it (:meth:`api.writes.Writes.perform`) for
the institution acting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Header, Request, Response
from pydantic import BaseModel

from api.deps import Actor
from api.models import Problem
from api.services import Services
from api.writes import IDEMPOTENCY_KEY_HEADER, SIGNED_TRANSACTION_HEADER, Rendered, Sender
from registry.contracts.binding import Call, ConsortiumContract

__all__ = [
    "IDEMPOTENCY_PROBLEMS",
    "IdempotencyKeyHeader",
    "NoBody",
    "SignedTransactionHeader",
    "problem",
    "write",
]

T = TypeVar("T")


def problem(description: str) -> dict[str, Any]:
    # Documented under application/problem+json by api.problems.problem_openapi.
    return {"model": Problem, "description": description}


SignedTransactionHeader = Annotated[
    str | None,
    Header(
        alias=SIGNED_TRANSACTION_HEADER,
        pattern=r"^0x([0-9a-fA-F]{2})+$",
        max_length=2 + 2 * 131_072,
        description="For a bank that signs with its own key: the transaction the write's "
        "`/unsigned` twin describes, signed, 0x and hex. The API relays it only if it is that "
        "transaction (signer, contract, call, chain); otherwise 422 "
        "`signed-transaction-mismatch` (`signed-transaction` for bytes that are no signed "
        "transaction, `nonce-used` for one whose nonce the account has spent) and nothing is "
        "sent.",
    ),
]

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="A key of your choosing, unique per request (a UUID does): sent again with "
        "the same request, the first answer is replayed (with `Idempotent-Replayed: true`), and "
        "nothing is written twice; sent with another request, it is refused (422 "
        "`idempotency-key-reused`). Kept per institution.",
        examples=["4f1c2a8e-9b7d-4e53-a1f0-6c2d8e9b3a71"],
    ),
]

IDEMPOTENCY_PROBLEMS: dict[int | str, dict[str, Any]] = {
    409: problem(
        "A ledger rule refused it (see above), or a request with this Idempotency-Key is still "
        "being answered (`idempotency-key-in-flight`, with Retry-After)."
    ),
    503: problem(
        "The chain node is unreachable; or the write is on chain but the index has not reached "
        "its block yet (`index-behind`, with the transaction's hash: send the same request with "
        "the same Idempotency-Key for the answer)."
    ),
}


class NoBody(BaseModel):
    """What a write without a body is remembered by under its Idempotency-Key: its path alone."""


def write(
    request: Request,
    actor: Actor,
    services: Services,
    contract: ConsortiumContract,
    key: str | None,
    signed: str | None,
    body: BaseModel,
    call: Call[T],
    render: Callable[[T], Rendered],
) -> Response:
    """Performs ``call`` on ``contract`` for ``actor`` (signed by the API, or by the actor in the
    ``Signed-Transaction`` header), once per ``Idempotency-Key``."""
    sender = Sender(
        actor.principal.institution,
        actor.account,
        actor.signer,
        bytes.fromhex(signed[2:]) if signed is not None else None,
    )
    return services.writes.perform(request, sender, key, body, contract, call, render)
