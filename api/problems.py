"""Every error the API answers, in one shape: RFC 9457 ``application/problem+json``.

A problem carries the standard members (``type``, ``title``, ``status``, ``detail``, ``instance``)
and three of ours: ``rule``, the stable machine-readable name of the rule broken (``type`` is
``urn:creditreg:problem:<rule>``); ``field``, the dotted location of the offending input
(``declarations.0.number``) for bad input; ``details``, the values explaining a refusal (the
holder of a declaration, the headroom left). Request validation errors add ``errors``, one entry per
field, and take ``field`` and ``rule`` from the first.

The status follows the exception's category (:mod:`registry.errors`), decided here and nowhere
else: routes never build error responses themselves.

What a problem never carries: the submitted values of a refused request (a client may put a key in
the wrong field), and the text of a chain or server failure, which can hold the node's URL and
its credentials; those go to the log, the client gets a generic detail.
"""

from __future__ import annotations

import http
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from api.models import Problem
from registry.errors import (
    AccessDenied,
    ChainError,
    InvalidInput,
    NotFound,
    RegistryError,
    RequestInFlight,
    RuleViolation,
)

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_SCHEMA_REF",
    "PROBLEM_TYPE_PREFIX",
    "RateLimited",
    "RequestTooLarge",
    "Unauthenticated",
    "install_problem_handlers",
    "problem_for",
    "problem_openapi",
    "problem_response",
    "send_problem",
    "status_of",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:creditreg:problem:"

logger = logging.getLogger(__name__)


class Unauthenticated(RegistryError):
    """No API key, or one the registry does not know (401).

    An API concept, not a registry one (the package itself has no callers to authenticate), so it
    lives here rather than in :mod:`registry.errors`.
    """

    rule = "unauthenticated"


class RequestTooLarge(RegistryError):
    """A request body beyond the configured limit (413), refused before it is read whole."""

    rule = "request-body-too-large"


class RateLimited(RegistryError):
    """An API key over its request budget (429, with Retry-After), refused before the body is
    read (:mod:`api.rate_limits`)."""

    rule = "rate-limited"


# Most specific first: the first category an error belongs to decides its status.
_STATUS_BY_CATEGORY: tuple[tuple[type[RegistryError], int], ...] = (
    (Unauthenticated, 401),
    (RequestTooLarge, 413),
    (RateLimited, 429),
    (InvalidInput, 422),
    (AccessDenied, 403),
    (NotFound, 404),
    (RuleViolation, 409),
    (RequestInFlight, 409),
    (ChainError, 503),
)

_ACRONYMS = {"uscc": "USCC", "iso": "ISO", "id": "ID", "api": "API", "json": "JSON", "http": "HTTP"}


def status_of(error: RegistryError) -> int:
    """The HTTP status for a domain error; 500 for a category the API does not expect (a
    configuration error surfacing in a request is the server's fault, not the client's)."""
    for category, status in _STATUS_BY_CATEGORY:
        if isinstance(error, category):
            return status
    return 500


def _title(rule: str) -> str:
    """A stable title per problem type, from its rule: ``uscc-check-digit`` -> ``USCC check
    digit``."""
    words = [_ACRONYMS.get(word, word) for word in rule.split("-")]
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def problem_response(
    request: Request,
    *,
    status: int,
    rule: str,
    detail: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
    errors: Sequence[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + rule,
        "title": _title(rule),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "rule": rule,
    }
    if field is not None:
        body["field"] = field
    body["details"] = jsonable_encoder(details or {})
    if errors is not None:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _registry_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryError)
    return problem_for(request, exc)


def problem_for(request: Request, exc: RegistryError) -> JSONResponse:
    """The problem answering a domain error: what the exception handler sends, and what the
    middlewares that answer before routing (authentication, the body limit) send."""
    status = status_of(exc)
    details = dict(exc.details)
    # Bad input always names its field; a refusal may too (the declaration that backs another
    # invoice), and then it is shown the same way.
    field = exc.field if isinstance(exc, InvalidInput) else details.get("field")
    details.pop("field", None)
    detail = exc.message
    if status >= 500 and not exc.public:
        # The message may name the node's URL (and any credentials in it): log it, do not send it.
        logger.error("%s %s failed: %s: %s", request.method, request.url.path, exc.rule, detail)
        detail = "the registry could not complete the request; try again later"
        details = {}
    headers = {"WWW-Authenticate": 'APIKey header="X-API-Key"'} if status == 401 else None
    if "retry_after" in details:
        headers = {"Retry-After": str(details["retry_after"])}
    return problem_response(
        request,
        status=status,
        rule=exc.rule,
        detail=detail,
        field=field,
        details=details,
        headers=headers,
    )


async def send_problem(scope: Scope, receive: Receive, send: Send, exc: RegistryError) -> None:
    """Answers ``exc`` from an ASGI middleware, before the request was routed or its body read.

    When the request announced a body, the answer closes the connection: keeping it open would
    make the server read the unread body to find the next request on it.
    """
    response = problem_for(Request(scope), exc)
    headers = Headers(scope=scope)
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        response.headers["Connection"] = "close"
    await response(scope, receive, send)


def _location(loc: Sequence[int | str]) -> str:
    """``("body", "declarations", 0, "number")`` -> ``declarations.0.number``; the whole body when
    the error is about the body itself (malformed JSON, not an object)."""
    inner = [str(part) for part in loc[1:]] if loc and loc[0] in {"body", "path", "query"} else []
    if not inner:
        return ".".join(str(part) for part in loc) or "body"
    return ".".join(inner)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Neither the rejected input nor pydantic's ctx is echoed: see the module docstring.
    errors = [
        {"field": _location(error["loc"]), "rule": _kebab(error["type"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "rule": "invalid-request", "message": ""}
    summary = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
    return problem_response(
        request,
        status=422,
        rule=first["rule"],
        detail=summary or "the request is malformed",
        field=first["field"],
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown path, wrong method) in the same shape."""
    assert isinstance(exc, StarletteHTTPException)
    phrase = http.HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return problem_response(
        request,
        status=exc.status_code,
        rule=phrase.lower().replace(" ", "-"),
        detail=str(exc.detail) if exc.detail else phrase,
        headers=headers,
    )


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method a route of the app takes at this path. Starlette's own ``Allow`` names the
    first route matching the path only, where several (a GET beside a POST) may."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    ]


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=500,
        rule="internal-error",
        detail="the registry could not complete the request",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answers domain errors, request validation errors, routing errors and bugs as problems."""
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"

_RETRY_AFTER = {
    "description": "Whole seconds to wait before sending the request again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
_WWW_AUTHENTICATE = {
    "description": "How to authenticate: the API key, in the X-API-Key header.",
    "required": True,
    "schema": {"type": "string"},
}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}


_BODY = "body"
_INPUT = "input"
_KEYED = "keyed"
_ANY = "any"
# The answers every operation of a kind may give, whatever the route: (status, which operations,
# description, headers). A route documents its own (404, 409, a 503 of its own) in its decorator;
# these are added where it did not, and the headers always.
_COMMON_PROBLEMS: tuple[tuple[str, str, str, dict[str, Any] | None], ...] = (
    (
        "400",
        _BODY,
        "The body could not be read as text (`bad-request`): not UTF-8, for one.",
        None,
    ),
    (
        "401",
        _KEYED,
        "No API key in X-API-Key, or one that does not work (`unauthenticated`); answered before "
        "the body is read.",
        {"WWW-Authenticate": _WWW_AUTHENTICATE},
    ),
    (
        "413",
        _ANY,
        "The body is larger than the server accepts (`request-body-too-large`, "
        "CREDITREG_MAX_REQUEST_BYTES); answered before it is read.",
        None,
    ),
    (
        "422",
        _INPUT,
        "A field breaks a rule (malformed JSON included): `field` and `rule` name it, and "
        "`errors` lists every field refused by the request's schema.",
        None,
    ),
    (
        "429",
        _KEYED,
        "The API key is over its budget of requests, or of writes (`rate-limited`; "
        "`details.limit` names the budget); answered before the body is read. Send again after "
        "Retry-After seconds.",
        {"Retry-After": _RETRY_AFTER},
    ),
    (
        "503",
        _ANY,
        "The chain node is unreachable (`chain-unavailable`): try again later.",
        None,
    ),
)


def _applies(kind: str, operation: dict[str, Any]) -> bool:
    if kind == _BODY:
        return "requestBody" in operation
    if kind == _INPUT:
        return "requestBody" in operation or bool(operation.get("parameters"))
    if kind == _KEYED:
        return bool(operation.get("security"))
    return True


def _document_problems(operation: dict[str, Any]) -> None:
    """Every error answer of ``operation`` as a problem document of the one shared schema, and
    the answers common to its kind added."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for code, response in responses.items():
        if code[:1] in {"4", "5"}:
            # FastAPI documents its own 422 (HTTPValidationError) and every model under
            # application/json; the API answers each with a problem document.
            response["content"] = _problem_content()
    for code, kind, description, headers in _COMMON_PROBLEMS:
        if not _applies(kind, operation):
            continue
        documented = responses.setdefault(
            code, {"description": description, "content": _problem_content()}
        )
        if headers:
            documented.setdefault("headers", {}).update(headers)
    operation["responses"] = dict(sorted(responses.items()))


def _no_null_parameters(operation: dict[str, Any]) -> None:
    """An optional header or query parameter as what it is when sent: a string (FastAPI documents
    ``str | None`` as a string or null, and a client or a generator that sends null sends the text
    ``null``). Absent is what ``required: false`` already says."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        branches = schema.get("anyOf")
        if not isinstance(branches, list):
            continue
        kept = [branch for branch in branches if branch != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(branches):
            del schema["anyOf"]
            schema.update(kept[0])


def _drop_unreferenced(schema: dict[str, Any], names: Sequence[str]) -> None:
    components = schema.get("components", {}).get("schemas", {})
    for name in names:
        reference = json.dumps(f"#/components/schemas/{name}")
        if name in components and reference not in json.dumps(schema):
            del components[name]


def problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """An ``app.openapi`` that declares every error as ``application/problem+json``.

    FastAPI documents every response model under ``application/json``, and a 422 of its own
    shape; the error responses are sent as problem documents, so each is documented as one, of the
    shared ``Problem`` schema. And the errors any operation of a kind may answer, whatever its
    route, are documented on each (``_COMMON_PROBLEMS``): 400 on an operation with a body; 401 and
    429 (with ``Retry-After``) on one that takes a key; 413 and 503 on all; 422 on one with input.
    And an optional parameter is documented as the string it is when sent, never as null.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    _document_problems(operation)
                    _no_null_parameters(operation)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            if "Problem" not in components:
                problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(problem.pop("$defs", {}))
                components["Problem"] = problem
            # FastAPI's own validation error shapes, which the API never sends.
            _drop_unreferenced(schema, ["HTTPValidationError", "ValidationError"])
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
