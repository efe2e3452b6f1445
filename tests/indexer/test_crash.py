"""Crash safety of the indexer: SIGKILL at random moments, restart, and the index still comes out
equal to a fresh replay of the chain.

The real ``creditreg index`` command runs in a subprocess against its own anvil node while a writer
thread keeps producing ledger events (registrations with one to three declarations, drawdowns,
repayments, cancellations, re-registrations, advance-rate changes). A killer loop SIGKILLs the
indexer again and again, at random moments, and restarts it. The chunk size is small, so the indexer
commits many transactions and the kills land before, between and inside them.

After every kill the index on disk is checked as it was left: a chunk's rows and its cursor commit
together, so no row may lie past the cursor and every log up to the cursor must be there. On
PostgreSQL the check first waits until the killed run's server sessions are gone: SIGKILL ends the
client, but its backend may hold a COMMIT it received and apply it a moment later. Each run
connects under an ``application_name`` of its own, so the wait looks for exactly its sessions.
Cursor and counts are then read in one REPEATABLE READ transaction: one snapshot. At the end
the crashed index catches up once more and is compared, table by table and row by row, with a
replay of the whole chain into a fresh database (see ``registry/audit/canonical.py``), and its
events with the node's ``eth_getLogs``.

The kill delays and the writer's operations come from one seeded generator; the seed is printed
(``pytest -s``, or in the failure report) and ``CREDITREG_CRASH_SEED=<seed>`` replays the same
schedule. The interleaving of writer, indexer and kills still depends on timing, so a failure
reproduces often, not always.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa
from eth_typing import ChecksumAddress
from sqlalchemy.engine import make_url

from registry.audit.canonical import diff_dumps, dump_database
from registry.chain.client import Chain, Signer
from registry.chain.node import DevNode
from registry.contracts.deploy import Deployment
from registry.contracts.ledger import DeclarationTerm, ReceivableLedger, ReceivableTerms
from registry.credentials import DevSecrets
from registry.db import create_schema, make_engine, schema
from registry.devstack import bootstrap
from registry.indexer import CURSOR_NAME, Indexer, read_cursor
from registry.settings import Settings
from tests.conftest import TEST_RATES, schema_name

SEED_VARIABLE = "CREDITREG_CRASH_SEED"
# Kills per backend: PostgreSQL, where a kill races the server's commit, takes the full count; the
# SQLite run shares the loader and the cursor rules, and needs fewer to cover them.
KILLS = {"postgresql": 22, "sqlite": 6}
SESSION_TIMEOUT = 30.0
CHUNK_SIZE = 10
POLL_INTERVAL = 0.05
KILL_DELAY = (0.05, 1.5)
# Share of kills timed from the process start rather than from its first commit. Their delay is
# 0.5 to 1.5 times the start-up time measured so far (interpreter and imports take seconds, and
# much more on a loaded machine), so they land in the imports, the schema check, the first reads
# or the first chunks. The other kills come 0.05 to 1.5 s after the run's first commit.
STARTUP_KILL_SHARE = 0.25
STARTUP_KILL_SPAN = (0.5, 1.5)
PROGRESS_TIMEOUT = 60.0
# A floor that keeps the test meaningful on a slow machine; a healthy run is far above it. (How
# many kills land mid-catch-up depends on timing, so the summary reports it but nothing asserts it.)
MIN_EVENTS = 1000
MATURITY = 2_000_000_000
CREDITREG = [sys.executable, "-m", "creditreg", "index"]


# --- the chain ---------------------------------------------------------------------------------


@dataclass
class DevChain:
    """A registry deployed on an anvil node of this test's own, with its manifest on disk."""

    node: DevNode
    chain: Chain
    secrets: DevSecrets
    deployment: Deployment
    manifest: Path
    # Logs counted so far, as (last block counted, count): the kill checks ask for ever higher
    # blocks, and counting from the deployment each time would grow with the chain.
    _counted: tuple[int, int] | None = None

    @property
    def addresses(self) -> list[ChecksumAddress]:
        return [
            self.chain.w3.to_checksum_address(c.address) for c in self.deployment.contracts.values()
        ]

    def log_count(self, to_block: int) -> int:
        """The node's count of the deployment's logs up to ``to_block``."""
        start, count = self.deployment.deployment_block, 0
        if self._counted is not None and self._counted[0] <= to_block:
            start, count = self._counted[0] + 1, self._counted[1]
        if start <= to_block:
            query = {"address": self.addresses, "fromBlock": start, "toBlock": to_block}
            count += len(self.chain.w3.eth.get_logs(query))  # type: ignore[arg-type]
            self._counted = (to_block, count)
        return count


@pytest.fixture
def dev_chain(tmp_path: Path) -> Iterator[DevChain]:
    # Not the session's anvil: this test runs long, writes thousands of blocks and is read by
    # another process, and must not be rewound under it by other tests' snapshots.
    node = DevNode("anvil", block_time=0).start()
    try:
        chain = Chain.connect(node.url)
        secrets = DevSecrets.generate()
        deployment = bootstrap(chain, secrets, TEST_RATES)
        manifest = tmp_path / "deployment.json"
        deployment.save(manifest)
        yield DevChain(node, chain, secrets, deployment, manifest)
    finally:
        node.stop()


@pytest.fixture
def replay_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh database of the same kind as ``database_url``, for the replay."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'replay.db'}"
        return
    server_url = str(request.getfixturevalue("postgres_url"))
    name = schema_name("t_replay")
    admin = make_engine(server_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{server_url}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


# --- the writer --------------------------------------------------------------------------------


class Status(Enum):
    REGISTERED = "registered"
    FINANCED = "financed"
    SETTLED = "settled"
    CANCELLED = "cancelled"


@dataclass
class Receivable:
    """The writer's model of a receivable, so that it only sends what the ledger accepts: only
    its registrant's bank draws on it and repays."""

    registrant: Signer
    cap: int
    declarations: list[bytes]
    status: Status = Status.REGISTERED
    outstanding: int = 0


class Writer(threading.Thread):
    """Keeps the ledger busy with valid operations of both banks until stopped.

    A refused operation would send nothing (the client estimates first) and so test nothing
    here; an operation the model got wrong stops the writer, and the test reports it.
    """

    def __init__(
        self, ledger: ReceivableLedger, banks: list[Signer], admin: Signer, rng: random.Random
    ) -> None:
        super().__init__(name="ledger-writer", daemon=True)
        self.ledger = ledger
        self.banks = banks
        self.admin = admin
        self.rng = rng
        self.receivables: dict[bytes, Receivable] = {}
        self.free_declarations: list[bytes] = []
        self.transactions = 0
        self.error: BaseException | None = None
        self._stop_requested = threading.Event()
        self._numbers = iter(range(1, 10**9))

    def stop(self) -> None:
        self._stop_requested.set()
        if self.ident is not None:  # started
            self.join(timeout=60)

    def run(self) -> None:
        try:
            while not self._stop_requested.is_set():
                self._one_operation()
                self.transactions += 1
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error

    def _in(self, *statuses: Status) -> list[bytes]:
        return [rid for rid, r in self.receivables.items() if r.status in statuses]

    def _one_operation(self) -> None:
        roll = self.rng.random()
        financeable = [
            rid
            for rid in self._in(Status.REGISTERED, Status.FINANCED, Status.SETTLED)
            if self.receivables[rid].outstanding < self.receivables[rid].cap
        ]
        if roll < 0.02:
            rate = self.rng.randrange(5000, 9001, 500)
            self.ledger.set_advance_rates(self.admin, rate, rate)
        elif roll < 0.40 or not financeable:
            self._register()
        elif roll < 0.70:
            self._finance(self.rng.choice(financeable))
        elif roll < 0.92 and (financed := self._in(Status.FINANCED)):
            self._repay(self.rng.choice(financed))
        elif cancellable := self._in(Status.REGISTERED):
            self._cancel(self.rng.choice(cancellable))
        else:
            self._register()

    def _fresh(self, prefix: bytes) -> bytes:
        return prefix + next(self._numbers).to_bytes(32 - len(prefix), "big")

    def _register(self) -> None:
        cancelled = self._in(Status.CANCELLED)
        # A cancelled invoice may be presented again: the index then replaces a receivable.
        if cancelled and self.rng.random() < 0.3:
            rid = self.rng.choice(cancelled)
        else:
            rid = self._fresh(b"INV")
        fingerprints: list[bytes] = []
        for _ in range(self.rng.randint(1, 3)):
            # Declarations freed by a cancellation may back another invoice.
            if self.free_declarations and self.rng.random() < 0.3:
                fingerprints.append(
                    self.free_declarations.pop(self.rng.randrange(len(self.free_declarations)))
                )
            else:
                fingerprints.append(self._fresh(b"DECL"))
        declarations = [DeclarationTerm(f, self.rng.randint(10_000, 80_000)) for f in fingerprints]
        face_value = self.rng.randint(20_000, 200_000)
        bank = self.rng.choice(self.banks)
        terms = ReceivableTerms(rid, b"\xee" * 32, 1, face_value, "USD", MATURITY)
        self.ledger.register(bank, terms, declarations)
        cap = self.ledger.receivable(rid).cap
        self.receivables[rid] = Receivable(bank, cap, fingerprints)

    def _finance(self, rid: bytes) -> None:
        receivable = self.receivables[rid]
        # The cap follows the advance rates in force, which this writer changes now and then.
        room = self.ledger.headroom(rid)
        if room == 0:
            self._register()
            return
        amount = self.rng.randint(1, room)
        self.ledger.finance(receivable.registrant, rid, amount)
        receivable.outstanding += amount
        receivable.status = Status.FINANCED

    def _repay(self, rid: bytes) -> None:
        receivable = self.receivables[rid]
        full = self.rng.random() < 0.4
        amount = receivable.outstanding if full else self.rng.randint(1, receivable.outstanding)
        self.ledger.repay(receivable.registrant, rid, amount)
        receivable.outstanding -= amount
        if receivable.outstanding == 0:
            receivable.status = Status.SETTLED

    def _cancel(self, rid: bytes) -> None:
        receivable = self.receivables[rid]
        self.ledger.cancel(receivable.registrant, rid)
        receivable.status = Status.CANCELLED
        self.free_declarations += receivable.declarations


# --- the indexer process -----------------------------------------------------------------------


def indexer_environment(dev_chain: DevChain, database_url: str, state_dir: Path) -> dict[str, str]:
    # Settings of the test runner's own environment (a CREDITREG_CONFIRMATIONS, say) must not
    # leak into the indexer under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITREG_")}
    env |= {
        "CREDITREG_RPC_URL": dev_chain.node.url,
        "CREDITREG_DATABASE_URL": database_url,
        "CREDITREG_MANIFEST_PATH": str(dev_chain.manifest),
        "CREDITREG_STATE_DIR": str(state_dir),
        "CREDITREG_INDEX_CHUNK_SIZE": str(CHUNK_SIZE),
        "CREDITREG_POLL_INTERVAL": str(POLL_INTERVAL),
    }
    return env


class IndexerProcess:
    """``creditreg index`` in a subprocess, each run's output in its own log file and, on
    PostgreSQL, its connections under an ``application_name`` of its own (:attr:`session_name`)."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.runs = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._tag = os.urandom(4).hex()

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"indexer-{self.runs}.log"

    @property
    def session_name(self) -> str:
        """The ``application_name`` of this run's database sessions."""
        return f"crash-{self._tag}-{self.runs}"

    def start(self, *args: str) -> None:
        self.runs += 1
        self._log = self.log_path.open("wb")
        url = make_url(self.env["CREDITREG_DATABASE_URL"])
        if url.get_backend_name() == "postgresql":
            url = url.update_query_dict({"application_name": self.session_name})
        env = self.env | {"CREDITREG_DATABASE_URL": url.render_as_string(hide_password=False)}
        self.process = subprocess.Popen(
            [*CREDITREG, *args],
            env=env,
            cwd=self.log_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def assert_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            self.close()
            pytest.fail(
                f"the indexer exited by itself with code {self.process.returncode} "
                f"(run {self.runs}):\n{self.output()}"
            )

    def kill(self) -> int | None:
        """SIGKILLs the process (if it runs) and reaps it; returns its exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        code = process.wait(timeout=30)
        self.close()
        return code

    def run_once(self, timeout: float) -> tuple[int, str]:
        """``creditreg index --once``: its exit code and output."""
        self.start("--once")
        assert self.process is not None
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.kill()
        return code, self.output()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# --- the checks --------------------------------------------------------------------------------


# Errors that mean "the schema is not there yet": a kill during the very first start-up can leave
# it missing or half-created. Anything else (a refused connection, a lost server) is a failure.
_NO_SCHEMA = ("no such table", "does not exist")


@dataclass
class Observer:
    """Reads the index a killed indexer left behind: its cursor, and its rows against the chain.

    The tables are reflected once, when the schema is complete: reflection is dozens of catalog
    queries, none of which belongs inside the snapshot that the checks read.
    """

    engine: sa.Engine
    dev_chain: DevChain
    tables: list[sa.Table] | None = None

    def _transaction(self) -> sa.Connection:
        if self.engine.dialect.name == "postgresql":
            return self.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        # SQLite: the only writer is the indexer, and it is dead (or not yet committing) when read.
        return self.engine.connect()

    def cursor(self) -> int | None:
        """The indexed block, None while the schema is not there yet."""
        try:
            with self._transaction() as connection:
                cursor = read_cursor(connection, CURSOR_NAME)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            if any(text in str(error.orig) for text in _NO_SCHEMA):
                return None
            raise
        return None if cursor is None else cursor.block_number

    def _reflected(self) -> list[sa.Table]:
        if self.tables is None:
            metadata = sa.MetaData()
            metadata.reflect(self.engine)
            # Reflected too early, a half-created schema would hide the tables created later.
            if set(schema.metadata.tables) - set(metadata.tables):
                return list(metadata.tables.values())
            self.tables = list(metadata.tables.values())
        return self.tables

    def check(self) -> tuple[int | None, int]:
        """The index as a kill left it: every log up to the cursor recorded, nothing past it.

        Rows committed without their cursor would lie past it; a cursor committed without its rows
        would leave logs missing below it. Cursor and counts come from one snapshot. Returns the
        cursor and the number of events recorded.
        """
        tables = self._reflected()
        by_name = {table.name: table for table in tables}
        with self._transaction() as connection:
            found = read_cursor(connection, CURSOR_NAME) if "indexer_cursor" in by_name else None
            cursor = None if found is None else found.block_number
            upper = self.dev_chain.deployment.deployment_block - 1 if cursor is None else cursor
            # Any table that places its rows in a block, projection or not.
            for table in tables:
                if "block_number" in table.c:
                    past = connection.execute(
                        sa.select(sa.func.count()).where(table.c.block_number > upper)
                    ).scalar_one()
                    assert past == 0, f"{past} rows of {table.name} past the cursor at {upper}"
            events = by_name.get("events")
            recorded = (
                0
                if events is None
                else connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
            )
        expected = self.dev_chain.log_count(upper)
        assert recorded == expected, (
            f"{recorded} events indexed up to block {upper}, chain has {expected}"
        )
        return cursor, recorded


def wait_until_sessions_end(engine: sa.Engine, session_name: str) -> None:
    """Waits until no server session of the killed run is left (PostgreSQL; nothing on SQLite,
    whose writer is the process itself). A backend that received the run's COMMIT applies it
    before it ends, so what the checks then read is all the run will ever have written."""
    if engine.dialect.name != "postgresql":
        return
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    deadline = time.monotonic() + SESSION_TIMEOUT
    with engine.connect() as connection:
        while connection.execute(query, {"name": session_name}).scalar_one():
            connection.rollback()  # a fresh snapshot of pg_stat_activity on the next read
            if time.monotonic() > deadline:
                pytest.fail(f"the killed run's sessions ({session_name}) did not end")
            time.sleep(0.01)


@dataclass(frozen=True)
class Kill:
    number: int
    timed_from: str
    """"start": the delay ran from the process start; "commit": from its first commit."""
    delay: float
    startup: float | None
    """Seconds from the spawn to the first commit, where the kill waited for it."""
    head: int
    """The chain's head just before the kill."""
    cursor_at_start: int | None
    cursor: int | None
    """The cursor the kill left behind."""
    events: int

    @property
    def advanced(self) -> bool:
        return self.cursor is not None and (
            self.cursor_at_start is None or self.cursor > self.cursor_at_start
        )

    @property
    def mid_catch_up(self) -> bool:
        """More than a chunk behind the head: killed while catching up, not while tailing."""
        return self.cursor is not None and self.head - self.cursor > CHUNK_SIZE


def wait_for_commit(observer: Observer, indexer: IndexerProcess, after: int | None) -> None:
    """Waits until the cursor moves past ``after`` (the cursor the previous run left, once its
    sessions were gone): the restarted indexer is indexing."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while time.monotonic() < deadline:
        indexer.assert_alive()
        cursor = observer.cursor()
        if cursor is not None and (after is None or cursor > after):
            return
        time.sleep(0.01)
    pytest.fail(f"the indexer did not commit within {PROGRESS_TIMEOUT}s:\n{indexer.output()}")


def kill_repeatedly(
    indexer: IndexerProcess,
    observer: Observer,
    dev_chain: DevChain,
    rng: random.Random,
    writer: Writer,
    count: int,
) -> list[Kill]:
    kills: list[Kill] = []
    startups: list[float] = []  # seconds from spawn to first commit
    cursor_at_start = observer.cursor()
    for number in range(1, count + 1):
        indexer.start()
        spawned = time.monotonic()
        # The first run is always timed from its commit: there is no start-up time to scale yet.
        from_start = bool(startups) and rng.random() < STARTUP_KILL_SHARE
        startup = None
        if from_start:
            delay = rng.uniform(*STARTUP_KILL_SPAN) * statistics.median(startups)
        else:
            delay = rng.uniform(*KILL_DELAY)
            wait_for_commit(observer, indexer, cursor_at_start)
            startup = time.monotonic() - spawned
            startups.append(startup)
        time.sleep(delay)
        indexer.assert_alive()
        head = dev_chain.chain.block_number()
        code = indexer.kill()
        assert code == -signal.SIGKILL, f"kill {number}: exit code {code}\n{indexer.output()}"
        wait_until_sessions_end(observer.engine, indexer.session_name)
        cursor, events = observer.check()
        if cursor_at_start is not None:
            assert cursor is not None
            assert cursor >= cursor_at_start, f"kill {number}: the cursor moved backwards"
        kills.append(
            Kill(
                number,
                "start" if from_start else "commit",
                delay,
                startup,
                head,
                cursor_at_start,
                cursor,
                events,
            )
        )
        if writer.error is not None:
            raise AssertionError(f"the writer failed after kill {number}") from writer.error
        cursor_at_start = cursor
    return kills


def summary(kills: list[Kill], writer: Writer, events: int, blocks: int) -> str:
    startups = [k.startup for k in kills if k.startup is not None]
    return (
        f"{len(kills)} kills: {sum(k.timed_from == 'start' for k in kills)} timed from the "
        f"start (start-up {min(startups):.1f}-{max(startups):.1f}s), "
        f"{sum(k.advanced for k in kills)} after progress, "
        f"{sum(k.mid_catch_up for k in kills)} more than a chunk behind the head; "
        f"{writer.transactions} transactions, {events} events, {blocks} blocks"
    )


# --- the test ----------------------------------------------------------------------------------


@dataclass
class Observed:
    engines: list[sa.Engine] = field(default_factory=list)

    def engine(self, url: str) -> sa.Engine:
        self.engines.append(make_engine(url))
        return self.engines[-1]

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


@pytest.mark.timeout(600)
def test_index_survives_sigkill_at_random_moments(
    dev_chain: DevChain, database_url: str, replay_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get(SEED_VARIABLE) or random.SystemRandom().randrange(2**32))
    print(f"crash test seed {seed}: rerun with {SEED_VARIABLE}={seed}")
    rng = random.Random(seed)
    started = time.monotonic()

    settings = Settings(
        rpc_url=dev_chain.node.url,
        database_url=database_url,
        state_dir=tmp_path / "state",
        index_chunk_size=CHUNK_SIZE,
        poll_interval=POLL_INTERVAL,
        confirmations=0,
    )
    engines = Observed()
    # The writer has a connection of its own: the test thread reads the chain meanwhile.
    writer_chain = Chain.connect(dev_chain.node.url)
    secrets = dev_chain.secrets
    writer = Writer(
        ReceivableLedger(writer_chain, dev_chain.deployment.address_of("ReceivableLedger")),
        [secrets.institution("Bank A").signer, secrets.institution("Bank B").signer],
        secrets.institution("Consortium admin").signer,
        random.Random(rng.getrandbits(64)),
    )
    indexer = IndexerProcess(
        indexer_environment(dev_chain, database_url, settings.state_dir), tmp_path
    )
    try:
        live = engines.engine(database_url)
        observer = Observer(live, dev_chain)
        writer.start()
        count = KILLS[live.dialect.name]
        kills = kill_repeatedly(indexer, observer, dev_chain, rng, writer, count)
        writer.stop()
        if writer.error is not None:
            raise AssertionError("the writer failed") from writer.error
        assert not writer.is_alive()

        code, output = indexer.run_once(timeout=120)
        assert code == 0, f"creditreg index --once failed:\n{output}"
        wait_until_sessions_end(live, indexer.session_name)
        head = dev_chain.chain.block_number()
        status = Indexer.from_settings(
            live, dev_chain.chain, dev_chain.deployment, settings
        ).status()
        assert status.indexed_block == head
        assert status.indexed_hash == dev_chain.chain.w3.eth.get_block(head)["hash"].to_0x_hex()

        replay = engines.engine(replay_url)
        create_schema(replay)
        replay_settings = settings.model_copy(
            update={"database_url": replay_url, "index_chunk_size": 2000}
        )
        Indexer.from_settings(
            replay, dev_chain.chain, dev_chain.deployment, replay_settings
        ).run_until_caught_up()

        live_dump, replay_dump = dump_database(live), dump_database(replay)
        differences = diff_dumps(live_dump, replay_dump, names=("crashed index", "replay"))
        assert not differences, f"seed {seed}:\n" + "\n".join(differences)
        logs = dev_chain.log_count(head)
        assert len(live_dump["events"]) == logs
        assert observer.check() == (head, logs)
        print(summary(kills, writer, logs, head - dev_chain.deployment.deployment_block))
        print(f"{time.monotonic() - started:.1f}s")

        # Progress between kills, overall: most runs committed before they were killed, and the
        # cursor ended far from where it started.
        assert sum(k.advanced for k in kills) >= len(kills) // 2, kills
        assert kills[-1].cursor is not None
        assert kills[-1].cursor - dev_chain.deployment.deployment_block > 10 * CHUNK_SIZE
        assert logs >= MIN_EVENTS
    finally:
        writer.stop()
        indexer.kill()
        engines.dispose()
