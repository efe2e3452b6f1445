"""Fixtures of the API tests: the API's services on the session's dev stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.services import Services
from registry.db import make_engine
from tests.conftest import Stack


@pytest.fixture
def services(stack: Stack, sqlite_url: str) -> Iterator[Services]:
    """The API's services on the (rewound) anvil stack, over a fresh SQLite index. A module that
    wants them otherwise (on PostgreSQL too, or other secrets) defines its own."""
    engine = make_engine(sqlite_url)
    yield Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    engine.dispose()
