"""A sent transaction is followed to its end (registry.chain.client): mined, failed and decoded,
out of gas and sent again, dropped or replaced and said so; nonces are the node's, so a
reorganization or a second signer for the same account never leaves one stuck or shared.

The races run on the session's anvil with real concurrent threads; the node's mining mode is
switched per test (automine, a block every second, or manual) and restored after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from hexbytes import HexBytes

from registry import errors
from registry.chain import client as chain_client
from registry.chain.client import Chain, Signer
from registry.contracts.ledger import (
    DeclarationTerm,
    ReceivableLedger,
    ReceivableStatus,
    ReceivableTerms,
)
from registry.db import make_engine
from registry.db.locks import account_lock
from tests.conftest import Stack, fp, start_stack

MATURITY = 2_000_000_000
CAP = 80_000  # face 100,000 at the tests' 8,000 bps; the declaration allows as much


def rpc(stack: Stack, method: str, *params: Any) -> Any:
    response = stack.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


@contextmanager
def mining(stack: Stack, *, automine: bool, interval: int = 0) -> Iterator[None]:
    """The node mines on each transaction, every ``interval`` seconds, or only when told."""
    rpc(stack, "evm_setAutomine", automine)
    if interval:
        rpc(stack, "evm_setIntervalMining", interval)
    try:
        yield
    finally:
        rpc(stack, "evm_setIntervalMining", 0)
        rpc(stack, "evm_setAutomine", True)


def register(stack: Stack, signer: Signer, invoice: str) -> bytes:
    terms = ReceivableTerms(fp(invoice), fp("exporter"), 1, 100_000, "USD", MATURITY)
    stack.ledger.register(signer, terms, [DeclarationTerm(fp(invoice + "/decl"), 100_000)])
    return terms.id


def in_threads(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Runs ``action(i)`` for each i at once; each result, or the exception it raised."""
    start = threading.Barrier(count)

    def run(i: int) -> Any:
        start.wait()
        try:
            return action(i)
        except errors.RegistryError as error:
            return error

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


class Background:
    """``action`` running in a thread of its own; its result, or the domain error it raised."""

    def __init__(self, action: Callable[[], Any]) -> None:
        self.outcome: list[Any] = []

        def run() -> None:
            try:
                self.outcome.append(action())
            except errors.RegistryError as error:
                self.outcome.append(error)

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def result(self) -> Any:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "still waiting"
        (outcome,) = self.outcome
        return outcome


def pending(stack: Stack) -> int:
    return int(rpc(stack, "txpool_status")["pending"], 16)


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def nonce_of(stack: Stack, tx_hash: str) -> int:
    return int(stack.chain.w3.eth.get_transaction(tx_hash)["nonce"])  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", [0, 1], ids=["automine", "1s-blocks"])
def test_concurrent_tranches_are_each_financed_or_refused_never_failed(
    stack: Stack, interval: int
) -> None:
    """40 tranches of 20,000 on one receivable at once, half by another bank: estimated against
    the same state, mined one after the other. Each is financed or refused by its rule and
    recorded; none fails on chain for want of gas (the failure issue 11 found)."""
    receivable = register(stack, stack.bank_a.signer, "race")
    banks = [stack.bank_a.signer, stack.bank_b.signer]
    with mining(stack, automine=interval == 0, interval=interval):
        outcomes = in_threads(
            40, lambda i: stack.ledger.try_finance(banks[i % 2], receivable, 20_000)
        )

    assert not [o for o in outcomes if isinstance(o, errors.RegistryError)]
    financed = [o for o in outcomes if o.refusal is None]
    refused = [o for o in outcomes if o.refusal is not None]
    state = stack.ledger.receivable(receivable)
    assert len(financed) == CAP // 20_000
    assert state.outstanding == 20_000 * len(financed) == CAP
    assert {type(o.error).__name__ for o in refused} <= {
        "FinancingExceedsCap",
        "ReceivableHeldByOtherBank",
    }
    assert [o for o in refused if o.refusal.institution != bytes(32)]  # each names who tried
    assert len(financed) + len(refused) == 40


def test_a_transaction_out_of_gas_is_sent_again_and_counts_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Short of gas, a transaction changes nothing: it is estimated again and sent once more,
    and the tranche is drawn once."""
    receivable = register(stack, stack.bank_a.signer, "short of gas")
    signer = stack.bank_a.signer
    before = stack.chain.w3.eth.get_transaction_count(signer.address)
    monkeypatch.setattr(chain_client, "gas_limit", lambda estimate: estimate - 5_000)

    result = stack.ledger.finance(signer, receivable, 30_000)

    assert stack.ledger.receivable(receivable).outstanding == 30_000
    assert stack.chain.w3.eth.get_transaction_count(signer.address) == before + 2
    failed = stack.chain.w3.eth.get_transaction_receipt(  # type: ignore[call-overload]
        stack.chain.w3.eth.get_block(result.block_number - 1)["transactions"][0]
    )
    assert failed["status"] == 0
    # It ran out inside the proxy's call to the ledger's code: the proxy kept back a 64th of
    # the gas to revert with, and nothing else was left.
    limit = stack.chain.w3.eth.get_transaction(failed["transactionHash"])["gas"]
    assert limit - limit // 64 <= failed["gasUsed"] < limit
    assert chain_client.out_of_gas(failed, limit)


@pytest.mark.parametrize("traced", [True, False], ids=["call-tracer", "replayed"])
def test_a_refusal_mined_after_a_rival_is_decoded_to_its_rule(
    stack: Stack, traced: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two drawdowns of 50,000 through the reverting entry point, both estimated against an
    unfinanced receivable and mined in one block: the second reverts on chain, and the bank is
    told the rule (financing-exceeds-cap), not that the chain is unavailable. With the node's
    call tracer, or without one (the transaction re-simulated after its block)."""
    if not traced:
        monkeypatch.setattr(Chain, "_traced_output", lambda self, tx_hash: None)
    receivable = register(stack, stack.bank_a.signer, "rivals")
    signer = stack.bank_a.signer
    with mining(stack, automine=False):
        rivals = [
            Background(lambda: stack.ledger.finance(signer, receivable, 50_000)) for _ in range(2)
        ]
        wait_until(lambda: pending(stack) == 2)
        rpc(stack, "evm_mine")
        done = [rival.result() for rival in rivals]

    refusals = [o for o in done if isinstance(o, errors.RegistryError)]
    assert len(done) == 2
    assert len(refusals) == 1
    assert isinstance(refusals[0], errors.FinancingExceedsCap)
    assert refusals[0].rule == "financing-exceeds-cap"
    assert stack.ledger.receivable(receivable).outstanding == 50_000


@pytest.fixture
def own_anvil() -> Iterator[Stack]:
    """A node of its own: ``anvil_reorg`` on the session's node, whose tests are each reverted to
    a snapshot, can rebuild its head from a state without the contracts (seen once in 963 tests:
    every later call returned nothing)."""
    stack = start_stack("anvil")
    try:
        yield stack
    finally:
        stack.node.stop()


def test_after_a_reorganization_the_next_nonce_is_the_chains(own_anvil: Stack) -> None:
    """Three registrations dropped by a 3-block reorganization: the next one is signed with the
    nonce the chain is back at, and mined, instead of waiting behind a gap for ever."""
    stack = own_anvil
    signer = stack.bank_a.signer
    before = stack.chain.w3.eth.get_transaction_count(signer.address)
    for i in range(3):
        register(stack, signer, f"dropped {i}")
    rpc(stack, "anvil_reorg", 3, [])
    assert stack.chain.w3.eth.get_transaction_count(signer.address) == before

    receivable = register(stack, signer, "after the reorg")

    assert stack.ledger.receivable(receivable).face_value == 100_000
    assert stack.chain.w3.eth.get_transaction_count(signer.address) == before + 1


@pytest.mark.postgres
def test_two_workers_sending_for_one_account_never_share_a_nonce(
    stack: Stack, postgres_schema_url: str
) -> None:
    """Two API workers holding the same bank's key (two Signer objects, two connections, the
    PostgreSQL account lock between them) register at once: every registration is mined, with
    nonces that neither repeat nor skip."""
    key = stack.bank_a.signer.private_key_hex
    engines = [make_engine(postgres_schema_url) for _ in range(2)]
    workers = [
        ReceivableLedger(
            Chain.connect(stack.node.url, account_lock=account_lock(engine)), stack.ledger.address
        )
        for engine in engines
    ]
    signers = [Signer(key), Signer(key)]
    before = stack.chain.w3.eth.get_transaction_count(signers[0].address)

    def one(i: int) -> str:
        terms = ReceivableTerms(fp(f"worker {i}"), fp("exporter"), 1, 100_000, "USD", MATURITY)
        declaration = [DeclarationTerm(fp(f"worker {i}/decl"), 100_000)]
        return workers[i % 2].register(signers[i % 2], terms, declaration).tx_hash

    try:
        hashes = in_threads(24, one)
    finally:
        for engine in engines:
            engine.dispose()

    assert [h for h in hashes if not isinstance(h, str)] == []
    nonces = sorted(nonce_of(stack, h) for h in hashes)
    assert nonces == list(range(before, before + 24))


def test_a_nonce_taken_meanwhile_is_read_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count read is stale once (as when another process sent between our read and our
    send): the node refuses the transaction before pooling it, and it goes out again with the
    next nonce."""
    signer = stack.bank_a.signer
    register(stack, signer, "an earlier one")
    counts = iter([stack.chain.w3.eth.get_transaction_count(signer.address) - 1])
    real = stack.chain.w3.eth.get_transaction_count

    def stale_once(address: Any, block: Any = "latest") -> int:
        return next(counts, None) or real(address, block)

    monkeypatch.setattr(stack.chain.w3.eth, "get_transaction_count", stale_once)
    before = real(signer.address)

    receivable = register(stack, signer, "stale count")

    assert stack.ledger.receivable(receivable).status is ReceivableStatus.REGISTERED
    assert real(signer.address) == before + 1


def test_a_dropped_transaction_is_reported_and_did_nothing(stack: Stack) -> None:
    signer = stack.bank_a.signer
    with mining(stack, automine=False):
        outcome = []
        thread = threading.Thread(
            target=lambda: outcome.append(
                in_threads(1, lambda _: register(stack, signer, "drop"))[0]
            )
        )
        thread.start()
        wait_until(lambda: pending(stack) == 1)
        (sent,) = rpc(stack, "eth_getBlockByNumber", "pending", False)["transactions"]
        rpc(stack, "anvil_dropTransaction", sent)
        thread.join(timeout=60)

    (error,) = outcome
    assert isinstance(error, errors.TransactionDropped)
    assert error.rule == "transaction-dropped"
    assert error.details["tx_hash"] == sent
    assert stack.ledger.receivable(fp("drop")).status is ReceivableStatus.NONE


def test_a_replaced_transaction_is_reported_and_did_nothing(stack: Stack) -> None:
    """Someone holding the bank's key sends another transaction with the same nonce and a higher
    price, and it is mined instead."""
    signer = stack.bank_a.signer
    with mining(stack, automine=False):
        registering = Background(lambda: register(stack, signer, "replace"))
        wait_until(lambda: pending(stack) == 1)
        (sent,) = rpc(stack, "eth_getBlockByNumber", "pending", False)["transactions"]
        original = stack.chain.w3.eth.get_transaction(sent)
        replacement = signer.sign(
            {
                "to": signer.address,
                "value": 0,
                "gas": 21_000,
                "gasPrice": original["gasPrice"] * 2,
                "nonce": original["nonce"],
                "chainId": stack.chain.chain_id,
            }
        )
        stack.chain.w3.eth.send_raw_transaction(HexBytes(replacement))
        rpc(stack, "evm_mine")
        error = registering.result()

    assert isinstance(error, errors.TransactionReplaced)
    assert error.rule == "transaction-replaced"
    assert error.details == {"tx_hash": sent, "nonce": original["nonce"]}
    assert stack.ledger.receivable(fp("replace")).status is ReceivableStatus.NONE


def test_a_transaction_signed_and_never_sent_is_not_mistaken_for_an_equal_one(
    stack: Stack,
) -> None:
    """A process signs a drawdown, keeps its hash and dies before sending it; another signs the
    same drawdown with the same nonce and sends it. The two are distinct transactions (each
    signing tags its calldata), so following the dead one's hash tells that it was replaced and
    did nothing, never that the other's drawdown was its own."""
    receivable = register(stack, stack.bank_a.signer, "signed twice")
    signer = stack.bank_a.signer
    function = stack.ledger.contract.functions.tryFinance(receivable, 1_000)
    kept: list[chain_client.SentTx] = []

    class Died(Exception):
        pass

    def die_after_keeping(sent: chain_client.SentTx) -> None:
        kept.append(sent)
        raise Died

    with pytest.raises(Died):
        stack.chain.transact(signer, function, die_after_keeping)
    result = stack.chain.transact(signer, function)

    (dead,) = kept
    assert dead.nonce == nonce_of(stack, result.tx_hash)
    assert dead.tx_hash != result.tx_hash
    with pytest.raises(errors.TransactionReplaced):
        stack.chain.follow(dead)
    assert stack.ledger.receivable(receivable).outstanding == 1_000
