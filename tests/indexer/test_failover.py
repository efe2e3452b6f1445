"""Indexer failover on PostgreSQL: two ``creditreg index`` processes over one index, one active and
one standby waiting on the index's advisory lock (registry.db.locks.indexer_lock). The active one
is SIGKILLed; the standby takes over and indexes what comes next. Real processes, the session's
anvil, a fresh PostgreSQL schema.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.contracts.ledger import DeclarationTerm, ReceivableTerms
from registry.db import create_schema, make_engine
from registry.index_watch import IndexWatch
from tests.conftest import Stack, fp
from tests.system.test_secrets_never_leak import _environment

pytestmark = pytest.mark.postgres

CREDITREG_INDEX = [sys.executable, "-m", "creditreg", "index"]


class Indexer:
    """``creditreg index`` in a process of its own, its output in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                CREDITREG_INDEX, env=env, stdout=output, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def says(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"the indexer exited: {self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} in: {self.output()}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def environment(stack: Stack, postgres_schema_url: str, tmp_path: Path) -> dict[str, str]:
    manifest = tmp_path / "deployment.json"
    stack.deployment.save(manifest)
    engine = make_engine(postgres_schema_url)
    create_schema(engine)
    engine.dispose()
    return _environment(
        tmp_path / "state",
        CREDITREG_RPC_URL=stack.node.url,
        CREDITREG_DATABASE_URL=postgres_schema_url,
        CREDITREG_MANIFEST_PATH=str(manifest),
    )


@pytest.fixture
def indexers(environment: dict[str, str], tmp_path: Path) -> Iterator[list[Indexer]]:
    started: list[Indexer] = []
    try:
        yield started
    finally:
        for indexer in started:
            indexer.stop()


def registered(stack: Stack, invoice: str) -> int:
    """Registers an invoice for Bank A; the block it was mined in."""
    terms = ReceivableTerms(fp(invoice), fp("exporter"), 1, 100_000, "USD", 2_000_000_000)
    attempt = stack.ledger.try_register(
        stack.bank_a.signer, terms, [DeclarationTerm(fp(invoice + "/decl"), 100_000)]
    )
    return attempt.tx.block_number


def indexed_to(watch: IndexWatch, block: int, timeout: float = 60) -> None:
    """Waits until the index holds ``block``, reading its cursor in this thread (no poller left
    holding a connection when the engine is disposed)."""
    deadline = time.monotonic() + timeout
    while (watch.indexed_block() or 0) < block:
        assert time.monotonic() < deadline, f"the index did not reach block {block}"
        time.sleep(0.05)


def test_a_standby_indexer_takes_over_when_the_active_one_dies(
    stack: Stack,
    environment: dict[str, str],
    indexers: list[Indexer],
    tmp_path: Path,
) -> None:
    engine = make_engine(environment["CREDITREG_DATABASE_URL"])
    try:
        failed_over(stack, environment, indexers, tmp_path, IndexWatch(engine))
    finally:
        engine.dispose()


def failed_over(
    stack: Stack,
    environment: dict[str, str],
    indexers: list[Indexer],
    tmp_path: Path,
    watch: IndexWatch,
) -> None:
    active = Indexer(environment, tmp_path / "active.log")
    indexers.append(active)
    active.says("indexing:")
    standby = Indexer(environment, tmp_path / "standby.log")
    indexers.append(standby)
    standby.says("standby:")

    first = registered(stack, "INV-FAILOVER-1")
    indexed_to(watch, first)  # by the active one
    assert "indexing:" not in standby.output()

    active.process.kill()
    active.process.wait()
    standby.says("indexing:")
    second = registered(stack, "INV-FAILOVER-2")
    indexed_to(watch, second)  # by the standby, now active
