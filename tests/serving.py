"""An app behind a real uvicorn, in a thread of the test process, for the tests that need a socket.

What can go wrong with a server thread goes wrong loudly here rather than as a hang or a leak:

- the thread is a daemon, so a server that never stops cannot keep the test process alive after
  the run;
- the address is handed out only once the server has started and a connection to it succeeded,
  and a server that dies or does not start in time fails the test that wanted it;
- on the way out the thread must have ended within the stop timeout, or the test fails: a server
  left running would hold its port and its connections into whichever test comes next.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

__all__ = ["Served", "serving"]


@dataclass(frozen=True)
class Served:
    """A started server: where it listens, and the thread it runs in."""

    host: str
    port: int
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def serving(
    app: ASGIApp,
    *,
    start_timeout: float = 30.0,
    stop_timeout: float = 30.0,
    log_level: str = "warning",
    log_config: dict[str, Any] | None = uvicorn.config.LOGGING_CONFIG,
) -> Iterator[Served]:
    """Serves ``app`` on a free port of 127.0.0.1 for the block's duration; ``log_level`` and
    ``log_config`` as uvicorn takes them (``log_config=None`` leaves logging as the test set it).

    Raises AssertionError when the server stops or has not started within ``start_timeout``
    seconds, and when it has not stopped ``stop_timeout`` seconds after it was asked to.
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level=log_level, log_config=log_config
    )
    server = uvicorn.Server(config)
    raised: list[BaseException] = []

    def run() -> None:
        # uvicorn ends a failed startup with sys.exit(3), in this thread; kept to be reported
        # with the failure it explains, like anything else the server raises.
        try:
            server.run()
        except BaseException as error:  # reported below, never swallowed
            raised.append(error)

    thread = threading.Thread(target=run, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive():
                # Reported here, once: the check on the way out is for what fails later.
                failures, raised[:] = list(raised), []
                raise AssertionError(f"uvicorn stopped while starting: {failures!r}")
            assert time.monotonic() < deadline, f"uvicorn did not start within {start_timeout} s"
            time.sleep(0.01)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        # "Started" is uvicorn's word for it; a connection shows that it really listens.
        socket.create_connection((host, port), timeout=5).close()
        yield Served(host, port, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=stop_timeout)
        # Raised even when the block failed: the block's error stays attached as the context.
        assert not thread.is_alive(), f"uvicorn did not stop within {stop_timeout} s"
        assert not raised, f"uvicorn failed: {raised!r}"
