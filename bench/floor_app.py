"""The floor under the duplicate check: the same request served by the same stack, doing nothing.

``POST /v1/receivables/check`` with the API's own request model (``api.models.CheckRequest``,
every field validated as the API validates it) and a fixed answer: no authentication, no rate
limit, no database, no chain. bench/api.py serves it with uvicorn as ``creditreg serve`` does
(httptools and uvloop) and drives it like the real check, so that the check's figures can be read
against what FastAPI and uvicorn alone give on this machine in the same run.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.models import CheckRequest

app = FastAPI()


@app.post("/v1/receivables/check")
def check(body: CheckRequest) -> dict[str, Any]:
    """A sync route, as the API's is: run in the thread pool."""
    return {"invoice": {"registered": False}, "declarations": []}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
