"""``GET /v1/index/status`` and ``GET /metrics``: where the index stands and how fast it goes.

No authentication, like ``/health``: operators and monitoring ask, and nothing here is about any
enterprise or bank. Both read the index database and the node at each request (see
:meth:`api.services.Services.index_status`), so they hold when the indexer runs in another
process.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ServicesDep
from api.models import Problem
from registry.indexer import IndexStatus

__all__ = ["IndexStatusOut", "router"]

router = APIRouter(tags=["index"])


class IndexStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    head: int = Field(description="The chain's newest block.")
    safe_head: int = Field(
        description="The newest block the indexer indexes: head - confirmations."
    )
    confirmations: int = Field(description="Blocks the indexer stays behind the head.")
    indexed_block: int | None = Field(description="The last block indexed; null before any.")
    indexed_hash: str | None = Field(description="Its hash, as the index recorded it.")
    lag: int | None = Field(description="Blocks between the head and the last indexed.")
    caught_up: bool = Field(description="Whether the index has reached the safe head.")
    reorgs: int = Field(description="Chain reorganizations the index rolled back.")
    last_reorg_depth: int | None = Field(description="Blocks the last rollback un-indexed.")
    last_reorg_at: datetime | None
    events_indexed: int = Field(
        description="Events loaded since the index was created (re-loads after a reorg included)."
    )
    events_per_second: float = Field(
        description="Events indexed per second over the recent window; 0 once caught up with a "
        "quiet chain."
    )
    rate_window_seconds: float = Field(description="The window events_per_second is taken over.")
    last_step_at: datetime | None = Field(description="When the indexer last wrote a chunk.")


@router.get(
    "/v1/index/status",
    response_model=IndexStatusOut,
    summary="Index status: head, indexed block, lag, reorganizations, events per second",
    responses={503: {"model": Problem, "description": "The chain node is unreachable."}},
)
def index_status(services: ServicesDep) -> IndexStatus:
    return services.index_status()


# Left out of the OpenAPI document: it is for Prometheus, in Prometheus's own format.
@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
