"""Real reorganizations on anvil, and the index rolling back through them.

A common history is indexed, then an old branch of ``depth`` blocks with registry transactions,
then the chain replaces that branch with another one carrying other transactions (some of the old
ones dropped, some moved to other blocks, some new): reverted to a snapshot taken at the fork and
mined anew, to the same height or a lower one, or with ``anvil_reorg``. After indexing again the
index must equal a fresh replay of the chain into a new database, agree with the contract's views
now and as of every block of the new branch, and have counted the reorganization.

Why snapshot/revert for most of them: on the session's node, which every test snapshots and
reverts, anvil 1.7's ``anvil_reorg`` was seen mining the new branch's transactions as successful
but without their logs (as if run against a state without the contracts), depending on which
tests had run before. ``anvil_reorg`` is therefore exercised on a node of its own
(``test_anvil_reorg_on_a_node_of_its_own``). The session's node is left as found: each test runs
under the ``stack`` fixture's snapshot, and the signers' cached nonces are reset whenever the chain
moves under them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_typing import HexStr
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.chain.client import Signer
from registry.contracts.consents import SCOPE_CREDIT_REPORT, institution_id
from registry.contracts.ledger import ReceivableStatus
from registry.contracts.roles import REGISTRAR_ROLE
from registry.db import create_schema, make_engine, schema
from registry.db.read import title_as_of
from registry.indexer import REORG_WINDOW, Cursor, Indexer
from registry.indexer.reorg import find_common_ancestor, remember_blocks
from tests.conftest import Stack, fp, hx, start_stack, swept_on_sqlite
from tests.index_dump import dump_database
from tests.indexer.test_consents import (
    Consenting,
    anchor,
    assert_consents_match_chain,
    bind,
    grant,
    revoke,
)
from tests.indexer.test_indexer import (
    EXPORTER,
    MATURITY,
    assert_kept_hashes_on_chain,
    assert_matches_chain,
    dump,
    projected,
    register,
)
from tests.indexer.test_pledges import (
    CASE,
    Pledging,
    assert_pledges_match_chain,
)
from tests.indexer.test_pledges import apply as apply_for_pledge
from tests.indexer.test_pledges import register as register_property

DEPTHS = [1, 2, 5, 16, 64]


def normalized(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The index's rows without surrogate ids, timestamps and reorganization counts, sorted in
    Python (so that SQLite and PostgreSQL collations cannot differ)."""
    return {table: sorted(rows, key=repr) for table, rows in dump(engine, history=False).items()}


def assert_equals_fresh_replay(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    replay = fresh()
    Indexer(replay, stack.chain, stack.deployment).run_until_caught_up()
    assert normalized(engine) == normalized(replay)
    assert_kept_hashes_on_chain(stack, engine)


def rpc(stack: Stack, method: str, *params: Any) -> Any:
    response = stack.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def mine_to(stack: Stack, block: int) -> None:
    while stack.chain.block_number() < block:
        rpc(stack, "evm_mine")


@dataclass
class Presigner:
    """Signs transactions for a branch that starts after block ``fork``, with each signer's
    nonces counted from its state at the fork."""

    stack: Stack
    fork: int

    def __post_init__(self) -> None:
        self._nonces: dict[str, int] = {}
        self._gas_price = self.stack.chain.w3.eth.gas_price * 2

    def sign(self, signer: Signer, function: Any) -> str:
        address = signer.address
        if address not in self._nonces:
            self._nonces[address] = self.stack.chain.w3.eth.get_transaction_count(
                address, self.fork
            )
        tx = function.build_transaction(
            {
                "from": address,
                "nonce": self._nonces[address],
                "gas": 1_000_000,
                "gasPrice": self._gas_price,
                "chainId": self.stack.chain.chain_id,
            }
        )
        self._nonces[address] += 1
        return "0x" + signer.sign(tx).hex()

    def register(self, signer: Signer, invoice: str, *declarations: tuple[str, int]) -> str:
        terms = (fp(invoice), EXPORTER, 1, 100_000, b"USD", MATURITY)
        decls = [(fp(number), value) for number, value in declarations]
        functions = self.stack.ledger.contract.functions
        return self.sign(signer, functions.registerReceivable(terms, decls, []))

    def call(self, signer: Signer, name: str, *args: Any) -> str:
        return self.sign(signer, getattr(self.stack.ledger.contract.functions, name)(*args))


def common_history(stack: Stack) -> dict[str, bytes]:
    a, b = stack.bank_a.signer, stack.bank_b.signer
    ids = {
        "keep": register(stack, a, "INV-KEEP", ("D1", 90_000)),
        "cancel": register(stack, b, "INV-CANCEL", ("D2", 50_000)),
    }
    stack.ledger.finance(a, ids["keep"], 10_000)
    return ids


def old_branch(stack: Stack, depth: int) -> list[bytes]:
    """``depth`` blocks after the fork: registry operations at its first and last blocks and
    spread between, empty blocks elsewhere."""
    a, b = stack.bank_a.signer, stack.bank_b.signer
    fork = stack.chain.block_number()
    operations: list[Callable[[], object]] = [
        lambda: register(stack, a, "INV-OLD", ("D3", 30_000), ("D4", 20_000)),
        lambda: stack.ledger.finance(a, fp("INV-KEEP"), 20_000),
        lambda: stack.ledger.cancel(b, fp("INV-CANCEL")),
        lambda: register(stack, b, "INV-MOVED", ("D5", 40_000)),
        lambda: stack.ledger.repay(a, fp("INV-KEEP"), 5_000),
    ]
    # The first operation in the first block of the branch, the last in its last block.
    count = min(depth, len(operations))
    chosen = [*operations[: count - 1], operations[-1]] if count > 1 else operations[:1]
    offsets = [round(i * (depth - 1) / max(count - 1, 1)) for i in range(count)]
    for offset, operation in zip(offsets, chosen, strict=True):
        mine_to(stack, fork + offset)
        operation()
    mine_to(stack, fork + depth)
    assert stack.chain.block_number() == fork + depth
    return [fp("INV-OLD"), fp("INV-MOVED")]


def new_branch_transactions(stack: Stack, fork: int, depth: int) -> list[list[Any]]:
    """Transactions for the replacing branch: INV-OLD dropped (its declaration D3 taken by a new
    invoice), another drawdown instead of the old one, the cancellation and INV-MOVED kept but
    in other blocks, and two changes to one receivable in one block."""
    a, b = stack.bank_a.signer, stack.bank_b.signer
    sign = Presigner(stack, fork)
    last = depth - 1
    return [
        [sign.register(a, "INV-NEW", ("D3", 35_000)), 0],
        [sign.call(a, "finance", fp("INV-NEW"), 10_000), 0],
        [sign.call(a, "finance", fp("INV-KEEP"), 30_000), last // 2],
        [sign.register(b, "INV-MOVED", ("D5", 40_000)), last],
        [sign.call(b, "cancel", fp("INV-CANCEL")), last],
    ]


def assert_mined(stack: Stack, transactions: list[list[Any]]) -> None:
    """Each of ``transactions`` (raw, block offset) was mined, succeeded and emitted its logs."""
    for raw, offset in transactions:
        tx_hash = "0x" + keccak(HexBytes(raw)).hex()
        receipt = rpc(stack, "eth_getTransactionReceipt", tx_hash)
        assert receipt is not None, f"transaction {tx_hash} (offset {offset}) was not mined"
        assert int(receipt["status"], 16) == 1, receipt
        assert receipt["logs"], f"transaction {tx_hash} (offset {offset}) emitted no log"


def mine_branch(stack: Stack, snapshot: str, depth: int, transactions: list[list[Any]]) -> None:
    """Replaces the blocks after ``snapshot``'s with ``depth`` new ones carrying ``transactions``
    (raw, block offset): the old branch is reverted and another one mined in its place."""
    stack.revert(snapshot)
    rpc(stack, "evm_setAutomine", False)
    try:
        for offset in range(depth):
            for raw, at in transactions:
                if at == offset:
                    rpc(stack, "eth_sendRawTransaction", raw)
            rpc(stack, "evm_mine")
    finally:
        rpc(stack, "evm_setAutomine", True)
    assert_mined(stack, transactions)


def anvil_reorg(stack: Stack, depth: int, transactions: list[list[Any]]) -> None:
    rpc(stack, "anvil_reorg", depth, transactions)
    assert_mined(stack, transactions)


def all_ids(ids: dict[str, bytes]) -> dict[str, bytes]:
    return {**ids, "old": fp("INV-OLD"), "moved": fp("INV-MOVED"), "new": fp("INV-NEW")}


def reorganize_and_reindex(
    stack: Stack,
    engine: sa.Engine,
    fresh: Callable[[], sa.Engine],
    depth: int,
    method: str,
) -> None:
    """The scenario of the module docstring; ``method``, how the old branch is replaced:
    ``"mine"`` (revert to a snapshot at the fork, mine anew) or ``"anvil_reorg"``."""
    ids = common_history(stack)
    fork = stack.chain.block_number()
    snapshot = stack.snapshot() if method == "mine" else ""
    old_branch(stack, depth)
    # Small chunks, so that the old branch is indexed over several steps and kept chunk ends.
    index = Indexer(engine, stack.chain, stack.deployment, chunk_size=7)
    index.run_until_caught_up()
    assert_matches_chain(stack, engine, all_ids(ids))
    assert projected(engine, fp("INV-OLD")).status is ReceivableStatus.REGISTERED
    head = stack.chain.block_number()
    fork_hash = stack.chain.w3.eth.get_block(fork)["hash"]
    replaced_hash = stack.chain.w3.eth.get_block(fork + 1)["hash"]

    transactions = new_branch_transactions(stack, fork, depth)
    if method == "mine":
        mine_branch(stack, snapshot, depth, transactions)
    else:
        anvil_reorg(stack, depth, transactions)
    assert stack.chain.block_number() == head
    assert stack.chain.w3.eth.get_block(fork)["hash"] == fork_hash
    assert stack.chain.w3.eth.get_block(fork + 1)["hash"] != replaced_hash

    index.run_until_caught_up()

    status = index.status()
    # The fork block carried events, so its hash was kept: the rollback goes exactly there.
    assert (status.reorgs, status.last_reorg_depth) == (1, depth)
    assert status.indexed_block == head
    assert_equals_fresh_replay(stack, engine, fresh)
    assert projected(engine, fp("INV-OLD")).status is ReceivableStatus.NONE
    assert projected(engine, fp("INV-NEW")).status is ReceivableStatus.FINANCED
    for block in range(fork - 1, head + 1):
        assert_matches_chain(stack, engine, all_ids(ids), block)


@swept_on_sqlite("depth", DEPTHS, representative=64)
def test_a_reorg_ends_equal_to_a_fresh_replay(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine], depth: int
) -> None:
    reorganize_and_reindex(stack, engine, fresh, depth, "mine")


def test_anvil_reorg_on_a_node_of_its_own(tmp_path: Path) -> None:
    stack = start_stack("anvil")
    engines: list[sa.Engine] = []

    def fresh() -> sa.Engine:
        engines.append(make_engine(f"sqlite:///{tmp_path / f'index{len(engines)}.db'}"))
        create_schema(engines[-1])
        return engines[-1]

    try:
        reorganize_and_reindex(stack, fresh(), fresh, 8, "anvil_reorg")
    finally:
        for engine in engines:
            engine.dispose()
        stack.node.stop()


def test_a_rewound_chain_with_a_shorter_branch(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    """Snapshot/revert, then fewer blocks mined with other transactions: the cursor's block is
    gone from the chain, not replaced."""
    ids = common_history(stack)
    fork = stack.chain.block_number()
    snapshot = stack.snapshot()
    old_branch(stack, 5)
    index = Indexer(engine, stack.chain, stack.deployment, chunk_size=2)
    index.run_until_caught_up()

    stack.revert(snapshot)
    assert stack.chain.block_number() == fork
    register(stack, stack.bank_b.signer, "INV-NEW", ("D4", 25_000))
    stack.ledger.repay(stack.bank_a.signer, ids["keep"], 10_000)
    assert stack.chain.block_number() == fork + 2

    index.run_until_caught_up()

    status = index.status()
    assert (status.reorgs, status.last_reorg_depth) == (1, 5)
    assert status.indexed_block == fork + 2
    assert_equals_fresh_replay(stack, engine, fresh)
    assert projected(engine, ids["keep"]).status is ReceivableStatus.SETTLED
    for block in range(fork, fork + 3):
        assert_matches_chain(stack, engine, all_ids(ids), block)


def test_run_forever_follows_reorganizations(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    ids = common_history(stack)
    index = Indexer(engine, stack.chain, stack.deployment, poll_interval=0.02)
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            index.run_forever(stop)
        except BaseException as error:  # surfaced to the test thread below
            failures.append(error)

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert condition(), index.status()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        for reorg in (1, 2):
            fork = stack.chain.block_number()
            snapshot = stack.snapshot()
            old_branch(stack, 3)
            head = stack.chain.block_number()
            wait_for(lambda head=head: (index.status().indexed_block or 0) >= head)
            sign = Presigner(stack, fork)
            new = [[sign.call(stack.bank_a.signer, "repay", ids["keep"], reorg * 1_000), 1]]
            mine_branch(stack, snapshot, 3, new)
            wait_for(lambda reorg=reorg: index.status().reorgs == reorg)
            wait_for(lambda head=head: (index.status().indexed_block or 0) >= head)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert failures == []
    assert_equals_fresh_replay(stack, engine, fresh)
    assert_matches_chain(stack, engine, ids)


@pytest.fixture(scope="module")
def hashes_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hashes') / 'index.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def old_hash(number: int) -> HexStr:
    return HexStr(f"0x{number:064x}")


@settings(max_examples=200, deadline=None)
@given(
    kept=st.sets(st.integers(min_value=1, max_value=400), min_size=1, max_size=60),
    fork=st.integers(min_value=0, max_value=420),
)
def test_the_common_ancestor_is_the_newest_kept_block_still_on_the_chain(
    hashes_engine: sa.Engine, kept: set[int], fork: int
) -> None:
    """Against a model chain whose blocks above ``fork`` were replaced: the search finds the
    newest kept block at or below the fork, in O(log) hash requests."""
    cursor = max(kept)
    requests: list[int] = []

    def chain_hash(number: int) -> HexStr | None:
        requests.append(number)
        return old_hash(number) if number <= fork else HexStr(f"0x{number + 1:064x}")

    with hashes_engine.begin() as connection:
        connection.execute(sa.delete(schema.indexed_blocks))
        connection.execute(
            sa.insert(schema.indexed_blocks),
            [{"number": n, "hash": old_hash(n), "events": 1} for n in sorted(kept)],
        )
        found = find_common_ancestor(connection, chain_hash, cursor)
    candidates = [n for n in kept if n <= fork and n < cursor]
    if candidates:
        assert found == Cursor(max(candidates), old_hash(max(candidates)))
    else:
        assert found is None
    assert len(requests) <= 2 * len(kept).bit_length() + 4


def test_event_less_hashes_are_forgotten_outside_the_window(hashes_engine: sa.Engine) -> None:
    with hashes_engine.begin() as connection:
        connection.execute(sa.delete(schema.indexed_blocks))
        previous = 0
        # One step per block, every fourth block with events.
        for end in range(1, 2 * REORG_WINDOW):
            blocks = {end: (old_hash(end), 1 if end % 4 == 0 else 0)}
            remember_blocks(connection, blocks, previous, end)
            previous = end
        kept = {
            row.number: row.events
            for row in connection.execute(
                sa.select(schema.indexed_blocks.c.number, schema.indexed_blocks.c.events)
            )
        }
    last = 2 * REORG_WINDOW - 1
    assert {n for n, events in kept.items() if events == 0} == {
        n for n in range(last - REORG_WINDOW + 1, last + 1) if n % 4 != 0
    }
    assert {n for n, events in kept.items() if events} == set(range(4, last + 1, 4))


def full_dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (the projections of all three contracts), but the kept block hashes and
    the cursor, which depend on how the chain was read and on the index's history. Comparable
    across databases: the dump reflects the tables, so a Uint256 reads back as SQLite's decimal
    text or PostgreSQL's number, and both become ints here."""

    def value(item: object) -> object:
        return int(item) if isinstance(item, str) and item.isdigit() else item

    dumped = dump_database(engine, ignore={"alembic_version", "indexed_blocks", "indexer_cursor"})
    return {
        table: sorted((tuple(value(item) for item in row) for row in rows), key=repr)
        for table, rows in dumped.items()
    }


def test_a_reorg_through_pledges_and_consents_ends_equal_to_a_fresh_replay(
    stack: Stack, engine: sa.Engine, fresh: Callable[[], sa.Engine]
) -> None:
    """The old branch releases the senior pledge (its junior moves up), revokes a consent,
    anchors a read-log batch, seizes the property and changes roles; the new branch releases the
    junior instead, approves another pledge, grants another consent and anchors another root."""
    a, b = stack.bank_a.signer, stack.bank_b.signer
    clerk, court = stack.registrar.signer, stack.enforcer.signer
    bank_a = institution_id(a.address)
    pledging, consenting = Pledging(), Consenting()
    register_property(stack, pledging, "P1", 1_000_000)
    stack.pledges.approve(clerk, apply_for_pledge(stack, pledging, "a1", a, "P1", 300_000))
    stack.pledges.approve(clerk, apply_for_pledge(stack, pledging, "b1", b, "P1", 200_000))
    e1, key = bind(stack, consenting, "E1")
    expiry = int(stack.chain.w3.eth.get_block("latest")["timestamp"]) + 30 * 86_400
    grant(stack, consenting, key, e1, bank_a, SCOPE_CREDIT_REPORT, expiry)
    anchor(stack, consenting, 1, 2, e1)
    fork = stack.chain.block_number()
    snapshot = stack.snapshot()

    stack.pledges.release(a, pledging.pledges["a1"])
    revoke(stack, consenting, key, e1, bank_a, SCOPE_CREDIT_REPORT)
    anchor(stack, consenting, 3, 3, e1)
    stack.pledges.seize(court, pledging.properties["P1"], CASE)
    stack.pledges.grant_role(stack.secrets.deployer, REGISTRAR_ROLE, b.address)
    index = Indexer(engine, stack.chain, stack.deployment, chunk_size=3)
    index.run_until_caught_up()
    head = stack.chain.block_number()
    assert_pledges_match_chain(stack, engine, pledging)
    assert_consents_match_chain(stack, engine, consenting)

    stack.revert(snapshot)
    stack.pledges.release(b, pledging.pledges["b1"])
    auto = stack.auto_registrar.signer
    decided = stack.pledges.decide(auto, apply_for_pledge(stack, pledging, "c1", b, "P1", 100_000))
    assert decided.approved
    grant(stack, consenting, key, e1, institution_id(b.address), SCOPE_CREDIT_REPORT, expiry)
    anchor(stack, consenting, 3, 5, e1)
    stack.pledges.assign_institution(stack.secrets.deployer, a.address, keccak(text="group"))
    mine_to(stack, head + 1)
    new_head = stack.chain.block_number()

    index.run_until_caught_up()

    status = index.status()
    assert (status.reorgs, status.last_reorg_depth) == (1, head - fork)
    replay = fresh()
    Indexer(replay, stack.chain, stack.deployment).run_until_caught_up()
    assert full_dump(engine) == full_dump(replay)
    assert_kept_hashes_on_chain(stack, engine)
    for block in range(fork - 1, new_head + 1):
        assert_pledges_match_chain(stack, engine, pledging, block)
        assert_consents_match_chain(stack, engine, consenting, block)
    with engine.connect() as connection:
        ranks = [(row["id"], row["rank"]) for row in title_as_of(connection, hx(fp("P1")))]
    assert ranks == [(hx(pledging.pledges["a1"]), 1), (hx(pledging.pledges["c1"]), 2)]
