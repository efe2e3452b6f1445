"""The indexer's failure paths, each driven from the outside through an injected seam.

- the cursor's compare-and-swap: a second indexer on the same database fails instead of writing
  over the first, and ``run_forever`` stops on it;
- ``run_forever`` retrying a node that is down for a while (a provider that fails) and a database
  that is (an engine whose connections fail), then catching up;
- the chain changing under a step: between the end block's two hash reads (a reorganization, a
  rewound chain that no longer has the block), between the reads and the write, and between two
  steps of a catch-up whose next chunk was already read ahead;
- logs inconsistent with the block hashes, error answers to ``eth_getLogs``, a read-ahead that
  fails;
- a node of another chain than the manifest's; a kept block hash that the chain's logs contradict.

Seams are injected, never monkeypatched (STYLE.md): a log source, a web3 provider whose requests a
test intercepts (:class:`ScriptedProvider`), an engine whose connections fail. Reorganizations are
real: the session node is reverted to a snapshot and another branch mined.

Each failure is checked for its error (rule and message) and for the index it leaves: unchanged,
or, after the retry, equal to a fresh replay of the chain.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from eth_typing import ChecksumAddress
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from registry.chain.client import Chain
from registry.contracts.ledger import ReceivableStatus
from registry.db import make_engine, schema
from registry.errors import ChainError, ConfigurationError
from registry.indexer import IndexConflict, Indexer, RawLog, Web3LogSource, read_cursor
from tests.conftest import Stack, fp
from tests.indexer.test_indexer import (
    chain_logs,
    dump,
    lifecycle,
    projected,
    register,
)
from tests.indexer.test_reorg import assert_equals_fresh_replay

BOGUS_HASH = "0x" + "ab" * 32

Script = Callable[[str, Any], "RPCResponse | None"]


class ScriptedProvider(HTTPProvider):
    """An HTTP provider to a real node whose requests a test intercepts: ``script(method,
    params)`` runs before each request and may raise (a node that is down), answer in the node's
    place (a response dict), or act on the chain and return None to let the request through."""

    def __init__(self, url: str, script: Script) -> None:
        super().__init__(url)
        self.script = script

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        answer = self.script(str(method), params)
        if answer is not None:
            return answer
        return super().make_request(method, params)


def scripted_chain(stack: Stack, script: Script) -> Chain:
    return Chain(Web3(ScriptedProvider(stack.node.url, script)))


def asks_hash_of(method: str, params: Any, number: int) -> bool:
    """Whether the request reads block ``number`` (the indexer reads hashes this way)."""
    return (
        method == "eth_getBlockByNumber"
        and isinstance(params[0], str)
        and params[0].startswith("0x")
        and int(params[0], 16) == number
    )


LogSourceFunction = Callable[[Sequence[ChecksumAddress], int, int], Sequence[RawLog]]


def cursor_block(engine: sa.Engine) -> int | None:
    with engine.connect() as connection:
        cursor = read_cursor(connection, "ledger")
    return None if cursor is None else cursor.block_number


def kept_hashes(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(schema.indexed_blocks).order_by(schema.indexed_blocks.c.number)
        )
        return [tuple(row) for row in rows]


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


@contextmanager
def running(index: Indexer) -> Iterator[tuple[threading.Thread, list[BaseException]]]:
    """``index.run_forever`` in a thread, stopped on the way out; yields the thread and the error
    it ended with, if any."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            index.run_forever(stop)
        except BaseException as error:  # surfaced to the test thread
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield thread, failures
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


# --- two indexers, one database --------------------------------------------------------------


def test_a_cursor_another_indexer_created_meanwhile_stops_the_second(
    stack: Stack, engine: sa.Engine
) -> None:
    """Both start on an empty index; the first writes its chunk while the second reads the same
    chunk. The second's write finds a cursor where it expected none, and leaves the first's
    index as it was."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    first = Indexer(engine, stack.chain, stack.deployment)
    inner = Web3LogSource(stack.chain.w3)
    written: list[dict[str, list[tuple[Any, ...]]]] = []

    def racing(addresses: Sequence[ChecksumAddress], start: int, end: int) -> Sequence[RawLog]:
        if not written:
            assert first.step() > 0
            written.append(dump(engine))
        return inner(addresses, start, end)

    second = Indexer(engine, stack.chain, stack.deployment, log_source=racing)
    with pytest.raises(
        IndexConflict, match="cursor 'ledger' appeared while indexing: another indexer runs"
    ) as raised:
        second.step()
    assert raised.value.rule == "index-conflict"
    assert written[0]["events"]
    assert dump(engine) == written[0]


def test_a_cursor_another_indexer_moved_meanwhile_stops_run_forever(
    stack: Stack, engine: sa.Engine
) -> None:
    """The second indexer read its chunk from cursor N while the first indexed beyond N: its
    compare-and-swap on N fails, and run_forever stops on it rather than retrying (retrying would
    only race again)."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    first = Indexer(engine, stack.chain, stack.deployment)
    first.run_until_caught_up()
    old = cursor_block(engine)
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    register(stack, stack.bank_b.signer, "INV-3", ("D3", 90_000))
    inner = Web3LogSource(stack.chain.w3)
    written: list[dict[str, list[tuple[Any, ...]]]] = []

    def racing(addresses: Sequence[ChecksumAddress], start: int, end: int) -> Sequence[RawLog]:
        if not written:
            first.run_until_caught_up()
            written.append(dump(engine))
        return inner(addresses, start, end)

    second = Indexer(engine, stack.chain, stack.deployment, poll_interval=0.01, log_source=racing)
    with running(second) as (thread, failures):
        # It ends by itself: the conflict is not one of the failures it retries.
        wait_for(lambda: not thread.is_alive())
    (error,) = failures
    assert isinstance(error, IndexConflict)
    assert error.rule == "index-conflict"
    assert str(error) == (
        f"cursor 'ledger' moved away from block {old} while indexing: another indexer runs"
    )
    assert cursor_block(engine) == stack.chain.block_number()
    assert dump(engine) == written[0]


# --- retrying a node or a database that is down ------------------------------------------------


def test_run_forever_retries_while_the_node_is_down(
    stack: Stack, engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    head = stack.chain.block_number()
    outage = {"requests left": 6}

    def down_for_a_while(method: str, params: Any) -> RPCResponse | None:
        if outage["requests left"] > 0:
            outage["requests left"] -= 1
            # What requests raises for a node that refuses connections.
            raise requests.ConnectionError("the node is down")
        return None

    index = Indexer(
        engine, scripted_chain(stack, down_for_a_while), stack.deployment, poll_interval=0.01
    )
    with (
        caplog.at_level(logging.WARNING, logger="registry.indexer.runner"),
        running(index) as (_, failures),
    ):
        wait_for(lambda: cursor_block(engine) == head)
    assert failures == []
    assert outage["requests left"] == 0
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries
    assert all("the node is down" in message for message in retries), retries
    assert projected(engine, rid) == stack.ledger.receivable(rid)


def test_run_forever_retries_while_the_database_is_down(
    stack: Stack, engine: sa.Engine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    head = stack.chain.block_number()
    outage = {"connections left": 4}
    # Without a pool every connection is a new one, so the outage is felt at each.
    flaky = make_engine(database_url, poolclass=sa.NullPool)

    @sa.event.listens_for(flaky, "do_connect")
    def refuse(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
        if outage["connections left"] > 0:
            outage["connections left"] -= 1
            raise dialect.loaded_dbapi.OperationalError("the database is down")

    try:
        index = Indexer(flaky, stack.chain, stack.deployment, poll_interval=0.01)
        with (
            caplog.at_level(logging.WARNING, logger="registry.indexer.runner"),
            running(index) as (_, failures),
        ):
            wait_for(lambda: cursor_block(engine) == head)
    finally:
        flaky.dispose()
    assert failures == []
    assert outage["connections left"] == 0
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries
    assert all("the database is down" in message for message in retries), retries
    assert projected(engine, rid) == stack.ledger.receivable(rid)


# --- the chain changing under a step -----------------------------------------------------------


def test_a_reorganization_while_the_logs_are_read_is_not_indexed(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    """The end block's hash is read before and after the logs: a branch replaced in between
    makes the chunk a ChainError (retried), never an index of half one branch, half the other."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    fork = stack.snapshot()
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    end = stack.chain.block_number()
    before = dump(engine)
    inner = Web3LogSource(stack.chain.w3)
    reorganized: list[int] = []

    def reorganizing(addresses: Sequence[ChecksumAddress], start: int, stop: int) -> Any:
        if not reorganized:
            stack.revert(fork)
            register(stack, stack.bank_b.signer, "INV-X", ("DX", 5_000))
            reorganized.append(stack.chain.block_number())
        return inner(addresses, start, stop)

    racing = Indexer(engine, stack.chain, stack.deployment, log_source=reorganizing)
    with pytest.raises(
        ChainError, match=rf"the chain changed while blocks {end}\.\.{end} were read; retry"
    ) as raised:
        racing.step()
    assert raised.value.rule == "chain-unavailable"
    assert reorganized == [end]  # the new branch has the same height
    assert dump(engine) == before

    # The next step reads the new branch whole.
    assert racing.step() > 0
    assert projected(engine, fp("INV-X")) == stack.ledger.receivable(fp("INV-X"))
    assert projected(engine, fp("INV-2")).status is ReceivableStatus.NONE
    assert_equals_fresh_replay(stack, engine, fresh)


def test_a_block_the_chain_no_longer_has_is_retried_not_indexed(
    stack: Stack, engine: sa.Engine
) -> None:
    """The chain rewound below the chunk's end while its logs were read: the end block is gone,
    a ChainError says so, and the next step finds nothing new."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    indexed = cursor_block(engine)
    fork = stack.snapshot()
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    end = stack.chain.block_number()
    before = dump(engine)
    inner = Web3LogSource(stack.chain.w3)

    def rewinding(addresses: Sequence[ChecksumAddress], start: int, stop: int) -> Any:
        logs = inner(addresses, start, stop)
        stack.revert(fork)
        return logs

    rewound = Indexer(engine, stack.chain, stack.deployment, log_source=rewinding)
    with pytest.raises(ChainError) as raised:
        rewound.step()
    assert raised.value.rule == "chain-unavailable"
    assert raised.value.message == f"the node has no block {end}, below its own safe head; retry"
    assert dump(engine) == before
    result = index.advance()
    assert (result.block_range, result.events, result.rollback) == (None, 0, None)
    assert cursor_block(engine) == indexed == stack.chain.block_number()


def test_a_reorganization_after_the_reads_is_caught_before_the_write(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    """The chunk read whole and consistent, but the cursor's block replaced before the write:
    the write checks the cursor again and refuses, and the next step rolls back."""
    fork = stack.snapshot()
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    cursor = cursor_block(engine)
    assert cursor is not None
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    before = dump(engine)
    asked: list[str] = []

    def reorganize_before_the_write(method: str, params: Any) -> RPCResponse | None:
        if asks_hash_of(method, params, cursor):
            asked.append(method)
            # The step checks its cursor first (no reorganization yet), the write then.
            if len(asked) == 2:
                stack.revert(fork)
                register(stack, stack.bank_b.signer, "INV-Y", ("DY", 5_000))
                register(stack, stack.bank_b.signer, "INV-Z", ("DZ", 5_000))
        return None

    index = Indexer(engine, scripted_chain(stack, reorganize_before_the_write), stack.deployment)
    with pytest.raises(
        ChainError, match=r"the chain reorganized while blocks .* were read"
    ) as raised:
        index.step()
    assert raised.value.rule == "chain-unavailable"
    assert len(asked) == 2
    assert dump(engine) == before

    result = index.advance()
    assert result.rollback is not None
    assert result.rollback.replaced.block_number == cursor
    assert result.rollback.ancestor.block_number < cursor
    index.run_until_caught_up()
    assert projected(engine, fp("INV-1")).status is ReceivableStatus.NONE
    assert projected(engine, fp("INV-Z")) == stack.ledger.receivable(fp("INV-Z"))
    assert_equals_fresh_replay(stack, engine, fresh)


def test_a_catch_up_through_a_reorganization_drops_the_chunk_read_ahead(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    """run_until_caught_up reads each chunk while the previous one is written. When the chain is
    replaced between two steps, the step rolls back, and the chunk read ahead (from the old
    branch, or failed) is not used: the index comes out equal to a fresh replay."""
    fork = stack.snapshot()
    for n in range(4):
        register(stack, stack.bank_a.signer, f"INV-OLD-{n}", (f"DO{n}", 10_000))
    replaced = stack.chain.block_number() - 2
    reorganized: list[int] = []

    def reorganize_between_steps(method: str, params: Any) -> RPCResponse | None:
        # The main thread first asks for this block's hash when the next step checks its
        # cursor; the read-ahead thread asks for it when reading the chunk that ends there.
        if (
            not reorganized
            and threading.current_thread() is threading.main_thread()
            and asks_hash_of(method, params, replaced)
        ):
            stack.revert(fork)
            for n in range(4):
                register(stack, stack.bank_b.signer, f"INV-NEW-{n}", (f"DN{n}", 20_000))
            reorganized.append(stack.chain.block_number())
        return None

    index = Indexer(
        engine, scripted_chain(stack, reorganize_between_steps), stack.deployment, chunk_size=1
    )
    index.run_until_caught_up()
    assert len(reorganized) == 1
    assert index.status().reorgs == 1
    assert cursor_block(engine) == stack.chain.block_number() == reorganized[0]
    for n in range(4):
        assert projected(engine, fp(f"INV-OLD-{n}")).status is ReceivableStatus.NONE
        new = fp(f"INV-NEW-{n}")
        assert projected(engine, new) == stack.ledger.receivable(new)
    assert_equals_fresh_replay(stack, engine, fresh)


def test_a_failed_read_ahead_is_read_again_by_the_step(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    """The read-ahead's failure is not the step's: the step reads the chunk itself, and every
    block is indexed once, in order."""
    lifecycle(stack)
    inner = Web3LogSource(stack.chain.w3)
    calls: list[tuple[bool, int, int]] = []

    def failing_ahead(addresses: Sequence[ChecksumAddress], start: int, end: int) -> Any:
        ahead = threading.current_thread().name.startswith("indexer-read")
        calls.append((ahead, start, end))
        if ahead:
            raise ChainError("the node dropped the read-ahead's request")
        return inner(addresses, start, end)

    index = Indexer(engine, stack.chain, stack.deployment, chunk_size=3, log_source=failing_ahead)
    assert index.run_until_caught_up() == len(chain_logs(stack))
    assert any(ahead for ahead, *_ in calls)
    served = [(start, end) for ahead, start, end in calls if not ahead]
    blocks = [block for start, end in served for block in range(start, end + 1)]
    assert blocks == list(range(stack.deployment.deployment_block, stack.chain.block_number() + 1))
    assert_equals_fresh_replay(stack, engine, fresh)


# --- what the node answers ---------------------------------------------------------------------


@pytest.mark.parametrize("lie", ["another hash for a block", "a block outside the range"])
def test_logs_that_contradict_the_block_hashes_are_not_indexed(
    stack: Stack, engine: sa.Engine, lie: str
) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    end = stack.chain.block_number()
    before, hashes = dump(engine), kept_hashes(engine)
    inner = Web3LogSource(stack.chain.w3)

    def lying(addresses: Sequence[ChecksumAddress], start: int, stop: int) -> list[RawLog]:
        logs = [dict(log) for log in inner(addresses, start, stop)]
        if lie == "another hash for a block":
            logs[-1]["blockHash"] = BOGUS_HASH
        else:
            logs[-1]["blockNumber"] = hex(stop + 1)
        return logs  # type: ignore[return-value]

    liar = Indexer(engine, stack.chain, stack.deployment, log_source=lying)
    with pytest.raises(
        ChainError, match=rf"the node returned log \d+:\d+ .* for blocks {end}\.\."
    ) as raised:
        liar.step()
    assert raised.value.rule == "chain-unavailable"
    assert (dump(engine), kept_hashes(engine)) == (before, hashes)


def _answer(request_id: int, **member: Any) -> RPCResponse:
    return {"jsonrpc": "2.0", "id": request_id, **member}  # type: ignore[typeddict-item]


def test_ranges_the_node_answers_with_an_error_are_halved(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    """A node's error object for a wide eth_getLogs (a result limit) is a ChainError of the log
    source; the range is halved until the node serves it."""
    lifecycle(stack)
    widths: list[int] = []

    def limited(method: str, params: Any) -> RPCResponse | None:
        if method == "eth_getLogs":
            width = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
            widths.append(width)
            if width > 2:
                return _answer(1, error={"code": -32005, "message": "query returned > 10000"})
        return None

    index = Indexer(engine, scripted_chain(stack, limited), stack.deployment, chunk_size=16)
    assert index.run_until_caught_up() == len(chain_logs(stack))
    assert any(width > 2 for width in widths)
    assert_equals_fresh_replay(stack, engine, fresh)


def test_a_node_that_answers_no_list_of_logs_stops_the_step(
    stack: Stack, engine: sa.Engine
) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    end = stack.chain.block_number()
    before = dump(engine)

    def nonsense(method: str, params: Any) -> RPCResponse | None:
        return _answer(1, result=None) if method == "eth_getLogs" else None

    broken = Indexer(engine, scripted_chain(stack, nonsense), stack.deployment)
    with pytest.raises(ChainError) as raised:
        broken.step()
    assert raised.value.rule == "chain-unavailable"
    assert raised.value.message == (
        f"eth_getLogs fails even for the single block {end}: eth_getLogs {end}..{end} answered "
        "None instead of a list of logs"
    )
    assert dump(engine) == before


# --- what the index and the manifest say -------------------------------------------------------


def test_a_node_of_another_chain_than_the_manifests_is_refused_before_any_read(
    stack: Stack, engine: sa.Engine
) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    chain_id = stack.chain.chain_id
    elsewhere = dataclasses.replace(stack.deployment, chain_id=chain_id + 1)
    index = Indexer(engine, stack.chain, elsewhere, poll_interval=0.01)
    message = (
        f"the node serves chain {chain_id}, the deployment manifest is for chain {chain_id + 1}"
    )
    with pytest.raises(ConfigurationError) as raised:
        index.step()
    assert raised.value.rule == "configuration-error"
    assert raised.value.message == message
    # No retry can fix it: run_forever stops on it too.
    with pytest.raises(ConfigurationError) as again:
        index.run_forever(threading.Event())
    assert (again.value.rule, again.value.message) == ("configuration-error", message)
    assert all(rows == [] for rows in dump(engine).values())


def test_a_kept_hash_the_chains_logs_contradict_is_a_conflict(
    stack: Stack, engine: sa.Engine
) -> None:
    """A hash kept for a block beyond the cursor (left by another branch) that the logs of that
    block contradict: the index does not pick a side."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    block = stack.chain.block_number() + 1
    with engine.begin() as connection:
        connection.execute(
            sa.insert(schema.indexed_blocks).values(number=block, hash=BOGUS_HASH, events=3)
        )
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    assert stack.chain.block_number() == block
    before, hashes = dump(engine), kept_hashes(engine)

    with pytest.raises(
        IndexConflict, match=f"the index keeps hash {BOGUS_HASH} for block"
    ) as raised:
        index.step()
    chain_hash = stack.chain.w3.eth.get_block(block)["hash"].to_0x_hex()
    assert raised.value.rule == "index-conflict"
    assert raised.value.message == (
        f"the index keeps hash {BOGUS_HASH} for block {block}, the chain's logs say {chain_hash}"
    )
    assert raised.value.details == {"block_number": block}
    assert (dump(engine), kept_hashes(engine)) == (before, hashes)
