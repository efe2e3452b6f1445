"""Authentication before the body is read: a pure ASGI middleware.

FastAPI reads and parses a request's body before it runs the route's dependencies, so a key
checked in a dependency is checked only after the body of a caller who has none was received,
buffered and parsed. This middleware sees the headers first: a request for a route that takes a
key (every route but those of :data:`api.app.PUBLIC_ROUTERS`: health, index status, metrics; the
documentation is FastAPI's own and public too) without a working ``X-API-Key`` is answered 401
here, and not one byte of its body is received. A request no such route matches goes on to the
router, which answers 404 or 405 without reading the body either.

The principal a working key resolves to travels in the request's state to
:func:`api.deps.authenticate`, which routes depend on: one lookup per request, at every request,
so a key revoked in the database stops working on the next one (:mod:`registry.api_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import Unauthenticated, send_problem
from registry.api_keys import Principal, lookup

__all__ = [
    "API_KEY_HEADER",
    "PRINCIPAL_STATE",
    "Authentication",
    "principal_of",
    "principal_of_scope",
]

API_KEY_HEADER = "X-API-Key"
PRINCIPAL_STATE = "principal"
"""Where in the request's state the principal is kept."""


def principal_of(request: Request) -> Principal | None:
    """The principal :class:`Authentication` found for ``request``; None on a public path."""
    return principal_of_scope(request.scope)


def principal_of_scope(scope: Scope) -> Principal | None:
    """The principal :class:`Authentication` found for the request of ``scope``, for the
    middlewares inside it (:mod:`api.rate_limits`); None on a public path."""
    principal: Principal | None = scope.get("state", {}).get(PRINCIPAL_STATE)
    return principal


class Authentication:
    """Answers 401 before the body is read to a request for one of ``routes`` without a working
    key."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    def _route(self, scope: Scope) -> BaseRoute | None:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        # What the router will store too: an answer given before it runs (a missing key here, an
        # oversized body next) is counted under the route's template all the same (api.metrics).
        scope["route"] = route
        api_key = Headers(scope=scope).get(API_KEY_HEADER)
        principal = None
        if api_key:
            services = scope["app"].state.services
            # The lookup is a blocking database query: off the event loop, like a sync dependency.
            principal = await run_in_threadpool(lookup, services.engine, api_key)
        if principal is None:
            detail = (
                f"the {API_KEY_HEADER} header holds no working API key"
                if api_key
                else f"send your API key in the {API_KEY_HEADER} header"
            )
            await send_problem(scope, receive, send, Unauthenticated(detail))
            return
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        await self.app(scope, receive, send)
