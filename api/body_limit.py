"""A limit on request bodies, enforced before they are read: a pure ASGI middleware.

No request the API serves needs more than a few kilobytes (a registration carries at most 32
declarations), and FastAPI reads a body whole into memory before it validates anything. So a body
larger than ``CREDITREG_MAX_REQUEST_BYTES`` (1 MiB by default) is answered ``413``
``request-body-too-large`` as soon as that is known:

- from the headers, when ``Content-Length`` announces more: nothing of the body is received;
- while it streams, when a body without a length (chunked) or one longer than announced grows past
  the limit: the chunk that crosses it is the last one received, and the app, which was reading
  it, never sees a complete body. Whatever the app would have answered to the body it could not
  read is dropped, and the 413 is sent instead.

Either way the connection is closed after the answer, so that the server does not read the rest.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import RequestTooLarge, send_problem

__all__ = ["BodyLimit"]


class _BodyTooLarge(Exception):
    """Raised into the app's read of the body when it grows past the limit."""


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.isdigit():
        # The server refuses a malformed length itself; counting covers whatever gets through.
        return None
    return int(value)


class BodyLimit:
    """Answers 413 for a request body beyond ``max_bytes``, without reading more than that."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> RequestTooLarge:
        return RequestTooLarge(
            f"the request body exceeds {self.max_bytes} bytes, the most this API accepts "
            "(CREDITREG_MAX_REQUEST_BYTES)",
            limit_bytes=self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await send_problem(scope, receive, send, self._error())
            return

        received = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if exceeded:
                return  # the app's answer to a body it could not read: ours replaces it
            answered = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # FastAPI turns a failed read into a 400 of its own; any other app may let it (or
            # what it made of it) escape. Either way, past the limit, the 413 is the answer.
            if not exceeded:
                raise
        if exceeded and not answered:
            await send_problem(scope, receive, send, self._error())
