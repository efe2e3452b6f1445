"""Killed mid-write: ``creditreg serve`` as a real process over PostgreSQL, SIGKILLed between
sending a transaction and answering, and the bank's retry with the same Idempotency-Key.

The node mines only when told (``evm_setAutomine false``), so that a request is held where it is
most fragile: its transaction in the node's pool, its answer not yet given. Then the process (or
one worker of ``serve --workers 2``) is killed, the node mines or drops the transaction, and the
retry must tell what happened to that one transaction: its result, marked replayed, or that it was
dropped; never a second drawdown, never a hang. Afterwards no account of any bank is left with a
gap in its nonces or a transaction stuck in the pool, and every bank writes again.

The indexer runs in this process, as ``creditreg index`` would beside ``serve``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import sqlalchemy as sa

from registry.chain.node import free_port
from registry.contracts.roles import Role
from registry.credentials import DevSecrets, Institution
from registry.db import create_schema, make_engine, schema
from tests.api.test_idempotency import pending, rpc, wait_until
from tests.api.test_write_races import FINANCINGS, headers, register
from tests.chain.test_transactions import mining
from tests.conftest import Stack, indexing
from tests.helpers import with_banks
from tests.keystores import TEST_PASSWORD, cheap_keystores
from tests.system.test_secrets_never_leak import _environment
from tests.system.test_system import PPID, _stat

CREDITREG = [sys.executable, "-m", "creditreg"]
STARTED = "Application startup complete."


@dataclass
class Server:
    """``creditreg serve`` running as a process of its own, its output in ``log``."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def workers(self) -> set[int]:
        """The pids of the uvicorn supervisor's worker processes (``--workers N``)."""
        found = set()
        for entry in Path("/proc").iterdir():
            fields = _stat(int(entry.name)) if entry.name.isdigit() else None
            if fields is not None and int(fields[PPID]) == self.process.pid:
                command = (entry / "cmdline").read_bytes()
                if b"multiprocessing" in command and b"resource_tracker" not in command:
                    found.add(int(entry.name))
        return found

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


@dataclass
class Deployment:
    """What ``serve`` is started from: its environment (state dir, node, database, password)."""

    env: dict[str, str]
    engine: sa.Engine
    secrets: DevSecrets
    state: Path

    @contextlib.contextmanager
    def serve(self, *arguments: str, workers: int = 1) -> Iterator[Server]:
        """``creditreg serve`` until the block ends, once it answers and each of its ``workers``
        has started; stopped by SIGINT (SIGKILL if it does not stop) on the way out."""
        port = free_port()
        log = self.state / f"serve-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*CREDITREG, "serve", *arguments],
                env=self.env | {"CREDITREG_API_PORT": str(port)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        server = Server(process, f"http://127.0.0.1:{port}", log)
        try:
            wait_until(lambda: _started(server, workers), timeout=60)
            yield server
        except BaseException:
            print(f"--- creditreg serve's output ---\n{server.output()}")  # shown on failure
            raise
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _started(server: Server, workers: int) -> bool:
    assert server.process.poll() is None, f"serve exited: {server.output()}"
    if server.output().count(STARTED) < workers:
        return False
    try:
        return httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def deployment(stack: Stack, postgres_schema_url: str, tmp_path: Path) -> Iterator[Deployment]:
    """A state dir for ``serve`` (the manifest, the API's secrets with two banks more, their
    keystores) over a fresh PostgreSQL schema, with the indexer running."""
    state = tmp_path / "state"
    secrets = with_banks(stack, 2)
    stack.deployment.save(state / "deployment.json")
    secrets.api_secrets().save(state / "secrets.json", cheap_keystores())
    env = _environment(
        state,
        CREDITREG_RPC_URL=stack.node.url,
        CREDITREG_DATABASE_URL=postgres_schema_url,
        CREDITREG_KEYSTORE_PASSWORD=TEST_PASSWORD,
    )
    engine = make_engine(postgres_schema_url)
    create_schema(engine)
    try:
        with indexing(stack, engine):
            yield Deployment(env, engine, secrets, state)
    finally:
        engine.dispose()


def drawn(stack: Stack, receivable: str) -> int:
    return stack.ledger.receivable(bytes.fromhex(receivable[2:])).outstanding


def nonce(stack: Stack, bank: Institution, block: str = "latest") -> int:
    return stack.chain.w3.eth.get_transaction_count(bank.account, block)  # type: ignore[arg-type]


def in_pool(stack: Stack) -> list[str]:
    """The hashes of the transactions the node holds, not yet mined."""
    return list(rpc(stack, "eth_getBlockByNumber", "pending", False)["transactions"])


@pytest.mark.parametrize("fate", ["mined", "dropped"])
def test_killed_between_sending_and_answering_the_retry_tells_that_transactions_fate(
    stack: Stack, deployment: Deployment, fate: str
) -> None:
    """Mined while the API was dead: the retry answers the first transaction's result, marked
    replayed, and nothing more is drawn. Dropped while it was dead: the retry says so (503
    transaction-dropped, with its hash), having drawn nothing; the next retry draws once."""
    bank = stack.bank_a
    request = headers(bank)
    with deployment.serve() as api, httpx.Client(base_url=api.url, timeout=60) as http:
        receivable = register(http, bank)
        url = FINANCINGS.format(receivable)
        before = nonce(stack, bank)
        with mining(stack, automine=False), ThreadPoolExecutor(1) as pool:
            first = pool.submit(http.post, url, json={"amount": 12_000}, headers=request)
            wait_until(lambda: pending(stack) == 1)
            (sent,) = in_pool(stack)
            api.kill()
            assert isinstance(first.exception(timeout=30), httpx.TransportError)
            if fate == "mined":
                rpc(stack, "evm_mine")
            else:
                rpc(stack, "anvil_dropTransaction", sent)
            assert pending(stack) == 0

    with deployment.serve() as api, httpx.Client(base_url=api.url, timeout=60) as http:
        retry = http.post(url, json={"amount": 12_000}, headers=request)
        if fate == "mined":
            assert retry.status_code == 201, retry.text
            assert retry.json()["tx_hash"] == sent
            assert retry.headers["Idempotent-Replayed"] == "true"
            assert drawn(stack, receivable) == 12_000
            assert nonce(stack, bank) == before + 1
            return
        assert retry.status_code == 503, retry.text
        assert retry.json()["rule"] == "transaction-dropped"
        assert retry.json()["details"]["tx_hash"] == sent
        assert drawn(stack, receivable) == 0
        assert nonce(stack, bank) == before

        again = http.post(url, json={"amount": 12_000}, headers=request)

    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert drawn(stack, receivable) == 12_000
    assert nonce(stack, bank) == before + 1


def owners(deployment: Deployment) -> dict[str, int]:
    """The pid of the process answering each Idempotency-Key still being answered."""
    table = schema.idempotency_keys
    with deployment.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.key, table.c.owner).where(table.c.owner.is_not(None))
        )
        return {key: int(owner.split(":")[1]) for key, owner in rows}


@dataclass(frozen=True)
class Tranche:
    """One financing request of a bank, with its Idempotency-Key."""

    bank: Institution
    receivable: str
    amount: int
    headers: dict[str, str]

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]

    def send(self, http: httpx.Client) -> httpx.Response:
        url = FINANCINGS.format(self.receivable)
        return http.post(url, json={"amount": self.amount}, headers=self.headers)


def kill_the_busiest_worker(api: Server, deployment: Deployment) -> set[str]:
    """SIGKILLs the worker answering the most keys now; returns the keys it was answering."""
    answering = owners(deployment)
    assert answering, "no request is being answered"
    assert set(answering.values()) <= api.workers()
    pids = list(answering.values())
    victim = max(set(pids), key=pids.count)
    os.kill(victim, signal.SIGKILL)
    return {key for key, pid in answering.items() if pid == victim}


def sent_at_once(
    http: httpx.Client, tranches: list[Tranche], pool: ThreadPoolExecutor
) -> dict[str, Future[httpx.Response]]:
    return {tranche.key: pool.submit(tranche.send, http) for tranche in tranches}


def test_a_worker_killed_mid_request_leaves_every_account_usable(
    stack: Stack, deployment: Deployment
) -> None:
    """``serve --workers 2`` and four banks. First, three tranches from each at once, all sent and
    waiting for their block (the node mines only when told) when the worker answering most of
    them is killed: the node mines them all, the other worker's requests are answered, and the
    killed one's clients get the same answers by retrying. Then, mining on each transaction, six
    more from each at once, and the busiest worker killed as soon as four are being answered,
    wherever they are: each retried until answered is drawn once. Afterwards every bank's nonces
    run without a gap, nothing is left in the pool, and every bank writes again."""
    banks = list(deployment.secrets.with_role(Role.LENDER))
    assert len(banks) == 4
    with deployment.serve("--workers", "2", workers=2) as api:
        with httpx.Client(base_url=api.url, timeout=60) as http:
            receivables = {
                bank.name: register(
                    http,
                    bank,
                    invoice_number=f"INV-KILL-{i}",
                    declarations=[{"number": str(310120260000100000 + i), "value": 100_000}],
                )
                for i, bank in enumerate(banks)
            }
        start = stack.chain.block_number()
        before = {bank.name: nonce(stack, bank) for bank in banks}

        def tranches(count: int) -> list[Tranche]:
            return [
                Tranche(bank, receivables[bank.name], 1_000, headers(bank))
                for bank in banks
                for _ in range(count)
            ]

        # Waiting for their block: in each worker a bank's first tranche went out alone, and
        # the others wait to go out together behind it (registry.chain.grouping).
        waiting = tranches(3)
        with (
            mining(stack, automine=False),
            httpx.Client(base_url=api.url, timeout=60) as http,
            ThreadPoolExecutor(len(waiting)) as pool,
        ):
            answers = sent_at_once(http, waiting, pool)
            wait_until(
                lambda: (
                    len(owners(deployment)) == len(waiting)
                    and all(nonce(stack, bank, "pending") > before[bank.name] for bank in banks)
                )
            )
            killed = kill_the_busiest_worker(api, deployment)
            for key in killed:
                assert isinstance(answers[key].exception(timeout=30), httpx.TransportError)
            sent = set(in_pool(stack))
            while not all(a.done() for k, a in answers.items() if k not in killed):
                if pending(stack):
                    rpc(stack, "evm_mine")
                threading.Event().wait(0.05)
            first = {k: a.result() for k, a in answers.items() if k not in killed}
        # A new client: the old one's connections to the killed worker are gone.
        with httpx.Client(base_url=api.url, timeout=60) as http:
            retried = {t.key: answered_at_last(http, t) for t in waiting if t.key in killed}
        for answer in first.values():
            assert answer.status_code == 201, answer.text
        for answer in retried.values():
            assert answer.status_code == 201, answer.text
            # Replayed when the killed worker had sent it; carried out now when it was still
            # waiting to go out, or signed and killed before it reached the node (told 503
            # transaction-dropped or transaction-replaced first).
            replayed = answer.headers.get("Idempotent-Replayed") == "true"
            assert replayed == (answer.json()["tx_hash"] in sent)
        calls = [
            (a.json()["tx_hash"], a.json()["call_index"])
            for a in [*first.values(), *retried.values()]
        ]
        assert len(set(calls)) == len(waiting)
        assert sent <= {tx_hash for tx_hash, _ in calls}  # every transaction sent was answered
        assert [drawn(stack, receivables[bank.name]) for bank in banks] == [3_000] * len(banks)
        assert_nonces_contiguous(stack, banks, before, start)

        # Under load, killed wherever they are: signing, sending, waiting for the index.
        wait_until(lambda: api.output().count(STARTED) >= 3)  # the supervisor replaced it
        loaded = tranches(6)
        with (
            httpx.Client(base_url=api.url, timeout=60) as http,
            ThreadPoolExecutor(len(loaded)) as pool,
        ):
            answers = sent_at_once(http, loaded, pool)
            wait_until(lambda: len(owners(deployment)) >= 4)
            kill_the_busiest_worker(api, deployment)
            outcomes = {key: a.exception(timeout=60) or a.result() for key, a in answers.items()}
        with httpx.Client(base_url=api.url, timeout=60) as http:
            for tranche in loaded:
                assert retried_until_drawn(http, tranche, outcomes[tranche.key]) <= {
                    "transaction-dropped",
                    "transaction-replaced",
                }
        assert [drawn(stack, receivables[bank.name]) for bank in banks] == [9_000] * len(banks)
        assert_nonces_contiguous(stack, banks, before, start)

        # Every bank writes again.
        with httpx.Client(base_url=api.url, timeout=60) as http:
            later = [t.send(http) for t in tranches(1)]
        assert [a.status_code for a in later] == [201] * len(banks), [a.text for a in later]
        assert_nonces_contiguous(stack, banks, before, start)


def retried_until_drawn(
    http: httpx.Client, tranche: Tranche, first: httpx.Response | BaseException
) -> set[str]:
    """Sends ``tranche`` again with its key until it is answered 201 (three times at most) unless
    ``first`` was that answer; returns the rules of the 503s on the way. A retry is told 503 when
    the killed worker had signed the transaction but the node never had it: nothing was done."""
    told: set[str] = set()
    answer = first
    for _ in range(3):
        if isinstance(answer, httpx.Response):
            if answer.status_code == 201:
                return told
            assert answer.status_code == 503, answer.text
            told.add(answer.json()["rule"])
        answer = tranche.send(http)
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 201, answer.text
    return told


def answered_at_last(http: httpx.Client, tranche: Tranche) -> httpx.Response:
    """``tranche`` sent again with its key until it is answered other than 503
    ``transaction-dropped`` or ``transaction-replaced`` (three times at most): its answer."""
    for _ in range(3):
        answer = tranche.send(http)
        if answer.status_code != 503:
            return answer
        assert answer.json()["rule"] in {"transaction-dropped", "transaction-replaced"}, answer.text
    return tranche.send(http)


def assert_nonces_contiguous(
    stack: Stack, banks: list[Institution], before: dict[str, int], since: int
) -> None:
    """Each bank's mined transactions since block ``since`` carry the nonces from its count
    then to its count now, each once; the node holds nothing of theirs unmined."""
    mined: dict[str, list[int]] = {bank.account: [] for bank in banks}
    for number in range(since + 1, stack.chain.block_number() + 1):
        block = stack.chain.w3.eth.get_block(number, full_transactions=True)
        for tx in cast(list[Any], block["transactions"]):
            if tx["from"] in mined:
                mined[tx["from"]].append(int(tx["nonce"]))
    for bank in banks:
        assert nonce(stack, bank, "pending") == nonce(stack, bank)
        assert sorted(mined[bank.account]) == list(range(before[bank.name], nonce(stack, bank)))
    status = rpc(stack, "txpool_status")
    assert (int(status["pending"], 16), int(status["queued"], 16)) == (0, 0)
