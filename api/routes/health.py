"""``GET /health``: is the chain reachable, and how far has the index got. No authentication, so
that load balancers and operators can ask."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServicesDep
from api.models import Health, Problem
from api.services import HealthStatus

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Chain and index status",
    responses={
        503: {"model": Problem, "description": "The chain node is unreachable."},
    },
)
def health(services: ServicesDep) -> HealthStatus:
    return services.health()
