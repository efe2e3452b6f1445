"""``GET /v1/transactions/{tx_hash}``: where a write's transaction stands now.

A write is answered once its block is indexed, but a reorganization deeper than the confirmations
the API waits for can still take the transaction out of the chain afterwards. A client that keeps
its writes' hashes (every answer carries one) asks here whether each is still mined, in which
block and under how many blocks, and whether the index has it; a transaction the node no longer
knows did nothing, and the write is sent again. (A client that sent the write with an
``Idempotency-Key`` learns the same by sending it again: an answer whose transaction left its
block is not replayed, see :mod:`api.writes`.)
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from api.deps import ServicesDep, authenticate
from api.models import Problem, TxHash

__all__ = ["TransactionStatusOut", "router"]

router = APIRouter(prefix="/v1/transactions", tags=["transactions"])


class TransactionStatusOut(BaseModel):
    tx_hash: str
    status: Literal["pending", "mined", "failed", "unknown"] = Field(
        description="`mined`: in the chain now, in `block_number`. `failed`: mined and reverted, "
        "it changed nothing. `pending`: in the node's pool. `unknown`: the node has no such "
        "transaction (never sent, or dropped: a reorganization took it out of the chain, or the "
        "pool evicted it): it did nothing, send the write again."
    )
    block_number: int | None = Field(description="The block it is mined in now; null unless mined.")
    confirmations: int | None = Field(
        description="Blocks from its block to the head, its own included; null unless mined."
    )
    indexed: bool = Field(description="Whether the index has reached its block.")


@router.get(
    "/{tx_hash}",
    response_model=TransactionStatusOut,
    summary="Where a transaction stands: mined (with confirmations), pending, or unknown",
    responses={503: {"model": Problem, "description": "The chain node is unreachable."}},
    # Any institution may ask: every member's node holds every transaction of the consortium.
    dependencies=[Depends(authenticate)],
)
def get_transaction(
    tx_hash: Annotated[
        TxHash,
        Path(
            description="The transaction's hash, 0x and 64 hex digits (rule `tx-hash-format`).",
            examples=["0x" + "cd" * 32],
        ),
    ],
    services: ServicesDep,
) -> TransactionStatusOut:
    state, block = services.chain.whereabouts(tx_hash.lower())
    indexed = services.writes.index.indexed_block()
    return TransactionStatusOut(
        tx_hash=tx_hash.lower(),
        status=state.value,
        block_number=block,
        confirmations=None if block is None else services.chain.block_number() - block + 1,
        indexed=block is not None and indexed is not None and indexed >= block,
    )
