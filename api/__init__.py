"""The bank-facing HTTP API (FastAPI) over the ``registry`` package.

- :mod:`api.app`: :func:`~api.app.create_app`, routers and error handlers wired, nothing else;
- :mod:`api.services`: :class:`~api.services.Services`, what the routes need, built once;
- :mod:`api.deps`: dependencies (services, the authenticated caller, the bank) as typed aliases;
- :mod:`api.models`: request and response bodies;
- :mod:`api.problems`: every error as RFC 9457 ``application/problem+json``;
- :mod:`api.routes`: one module per resource, each route one call into ``registry``.
"""
