"""The FastAPI application: :func:`create_app` wires routers and error handlers, nothing else.

Nothing is built at import time. ``creditreg up`` and ``creditreg serve`` build
:class:`~api.services.Services` themselves and pass it in; without it, the app builds its own from
the settings when it starts (and disposes of it when it stops), which is what
``uvicorn --factory api.app:create_app_from_environment`` runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version

from anyio import to_thread
from fastapi import Depends, FastAPI

from api.authentication import Authentication
from api.body_limit import BodyLimit
from api.metrics import HttpMetrics, new_registry, rate_limited_counter
from api.problems import install_problem_handlers, problem_openapi
from api.query import known_query_only
from api.rate_limits import RateLimit, RateLimiter, budgets_from
from api.routes import (
    consents,
    declarations,
    health,
    properties,
    receivables,
    status,
    transactions,
)
from api.services import Services
from registry.settings import Settings, get_settings

__all__ = ["PUBLIC_ROUTERS", "ROUTERS", "create_app", "create_app_from_environment"]

ROUTERS = (
    health.router,
    status.router,
    receivables.router,
    declarations.router,
    properties.property_router,
    properties.pledge_router,
    consents.enterprise_router,
    consents.consent_router,
    transactions.router,
)
PUBLIC_ROUTERS = (health.router, status.router)
"""The routers served without an API key: health, index status, metrics. Every route of the
others takes one, checked before the request's body is read (:mod:`api.authentication`)."""

DESCRIPTION = """\
The API of the credit registry and trade-finance ledger, for every member of the consortium:
banks (receivables, pledges), the property registration center's clerks and automated registrar
(properties, pledge decisions, enterprise bindings), courts (seizures) and customs
(attestations); enterprises consent through their banks, which relay what they signed. Each acts
in its key's role, which its account must also hold on chain.

Authenticate with your institution's key in the `X-API-Key` header. Amounts are JSON integers of
minor units (cents, fen). Every error is an RFC 9457 `application/problem+json` document whose
`rule` names the rule broken and, for bad input, whose `field` names the field. A request body
larger than the server's limit (`CREDITREG_MAX_REQUEST_BYTES`, 1 MiB by default) is refused with
413 `request-body-too-large` before it is read.

Each API key has a budget: a sustained number of requests per second and a burst above it, and a
smaller one for the writes (register, finance, repay). A request over budget is refused with 429
`rate-limited`, naming the budget, and a `Retry-After` header: the whole seconds until the budget
allows a request again.
"""


REQUEST_THREADS = 128
"""Routes and dependencies that block run in threads, at most this many at once (anyio's default
is 40). A write holds its thread until its block is mined and indexed, a second on a chain with
1 s blocks: with 40, 64 writing clients queued for threads and took two blocks each."""


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The API for ``services``, or for services built from ``settings`` at startup. ``clock``
    (monotonic seconds) is what the keys' budgets refill by (:mod:`api.rate_limits`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        if services is not None:
            yield
            return
        # Connecting waits for the node: off the event loop, though nothing else runs yet.
        built = await asyncio.to_thread(Services.from_settings, settings)
        app.state.services = built
        try:
            yield
        finally:
            built.engine.dispose()

    app = FastAPI(
        title="Credit registry",
        version=version("creditreg"),
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(known_query_only)],
    )
    if services is not None:
        app.state.services = services
    # This app's own metrics registry (never the process-wide default): see api.metrics.
    app.state.metrics = new_registry(lambda: getattr(app.state, "services", None))
    # Added innermost first. The metrics see every answer, the early ones included; the key is
    # checked before the size, so that a caller without one learns nothing of the limits, and the
    # key's budget between the two: a caller over budget is refused whatever its body.
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.state.rate_limiter = RateLimiter(*budgets_from(settings), clock=clock)
    app.add_middleware(
        RateLimit,
        limiter=app.state.rate_limiter,
        writes=[
            *receivables.write_routes(),
            *declarations.write_routes(),
            *properties.write_routes(),
            *consents.write_routes(),
        ],
        refused=rate_limited_counter(app.state.metrics),
    )
    keyed = [route for router in ROUTERS if router not in PUBLIC_ROUTERS for route in router.routes]
    app.add_middleware(Authentication, routes=keyed)
    app.add_middleware(HttpMetrics, registry=app.state.metrics)
    install_problem_handlers(app)
    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    for router in ROUTERS:
        app.include_router(router)
    return app


def create_app_from_environment() -> FastAPI:
    """The app for the process's settings (``CREDITREG_*``): a factory for uvicorn."""
    return create_app(get_settings())
