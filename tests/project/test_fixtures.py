"""The suite's own machinery, where a mistake would make other tests flaky or pass for nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.types import Receive, Scope, Send

from registry.db import make_engine
from tests.conftest import _drop_abandoned_schemas, schema_name
from tests.serving import Served, serving


def _schemas(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(sa.text("SELECT nspname FROM pg_namespace")))


def test_schemas_of_dead_test_processes_are_dropped_and_live_ones_kept(postgres_url: str) -> None:
    """A run killed before its teardown leaves its schemas behind; the next run drops them, but
    never the schemas of a run still going (another pytest on the same server)."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = f"t_{finished.stdout.strip()}_{'0' * 12}"
    live = schema_name()
    foreign = "t_not_ours"
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as connection:
            for name in (dead, live, foreign):
                connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))
        _drop_abandoned_schemas(postgres_url)
        left = _schemas(engine)
        assert dead not in left
        assert {live, foreign} <= left
    finally:
        with engine.begin() as connection:
            for name in (dead, live, foreign):
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


# --- the uvicorn thread (tests/serving.py) ------------------------------------------------------


class LifespanApp:
    """A bare ASGI app answering 200, whose startup can fail and whose shutdown waits for
    ``release``: a server that cannot stop, as a hung connection or task would make it."""

    def __init__(self, *, start: bool = True) -> None:
        self.start = start
        self.release = threading.Event()
        self.release.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        while True:
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "lifespan.startup":
                outcome = "complete" if self.start else "failed"
                await send({"type": f"lifespan.startup.{outcome}"})
                if not self.start:
                    return
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.release.wait)
                await send({"type": "lifespan.shutdown.complete"})
                return


def test_a_served_app_answers_and_its_thread_is_gone_afterwards() -> None:
    with serving(LifespanApp()) as served:
        assert served.thread.daemon
        assert httpx.get(served.url, timeout=5).text == "ok"
    assert not served.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.url, timeout=5)


def test_a_server_that_does_not_start_fails_the_test() -> None:
    with (
        pytest.raises(AssertionError, match=r"uvicorn stopped while starting: \[SystemExit\(3\)\]"),
        serving(LifespanApp(start=False)),
    ):
        pytest.fail("the block ran without a server")


def test_a_server_that_does_not_stop_fails_the_test() -> None:
    app = LifespanApp()
    app.release.clear()
    found: list[Served] = []
    try:
        with (
            pytest.raises(AssertionError, match=r"uvicorn did not stop within 0\.5 s"),
            serving(app, stop_timeout=0.5) as served,
        ):
            found.append(served)
    finally:
        app.release.set()
    # Released, it ends: the test leaves no thread behind either.
    (served,) = found
    served.thread.join(timeout=30)
    assert not served.thread.is_alive()
