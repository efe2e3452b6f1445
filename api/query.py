"""Query parameters a route does not take are refused, not ignored: a misspelt ``limt=5`` that
silently read 50 items would be worse than a 422 naming it."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from registry.errors import InvalidInput

__all__ = ["known_query_only"]


async def known_query_only(request: Request) -> None:
    """An app-wide dependency: 422 ``unknown-query-parameter`` for a parameter the route's
    document does not list."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    for name in request.query_params:
        if name not in known:
            raise InvalidInput(
                f"query.{name}",
                "unknown-query-parameter",
                f"this operation takes no query parameter {name!r}"
                + (f" (it takes {', '.join(sorted(known))})" if known else ""),
            )


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters of a route's dependant and of every dependency under it."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names
