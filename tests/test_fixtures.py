"""The suite's own machinery, where a mistake would make other tests flaky or pass for nothing."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from registry.db import make_engine
from tests.conftest import _drop_abandoned_schemas, schema_name


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
