"""The bank-facing HTTP API (FastAPI) over the ``registry`` package.

- :mod:`api.app`: :func:`~api.app.create_app`, routers and error handlers wired, nothing else;
- :mod:`api.services`: :class:`~api.services.Services`, what the routes need, built once;
- :mod:`api.deps`: dependencies (services, the authenticated caller, the bank) as typed aliases;
- :mod:`api.models`: request and response bodies;
- :mod:`api.problems`: every error as RFC 9457 ``application/problem+json``, and so documented in
  the OpenAPI document;
- :mod:`api.authentication`, :mod:`api.rate_limits`, :mod:`api.body_limit`: what is refused before
  a request's body is read (no working key, a key over its budget, a body too large);
- :mod:`api.routes`: one module per resource, each route one call into ``registry``.
"""
