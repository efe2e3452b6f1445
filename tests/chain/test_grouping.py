"""Concurrent writes of one signer go out as one multicall transaction (registry.chain.grouping),
each caller with its own outcome: its receivable, its recorded refusal, or the rule that refused it
alone; a group the state moved under is carried out again without the call it now refuses.

The calls of a test arrive while the signer is busy sending a first one (the test holds the
signer's lock), as a bank's requests do under load; the node mines only when told, so that a rival
can be put in the same block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from registry import errors
from registry.chain.client import Signer, TxResult
from registry.contracts.ledger import (
    Attempt,
    DeclarationTerm,
    ReceivableStatus,
    ReceivableTerms,
    RefusalReason,
)
from registry.contracts.roles import LENDER_ROLE
from tests.chain.test_transactions import (
    CAP,
    MATURITY,
    Background,
    mining,
    pending,
    register,
    rpc,
    wait_until,
)
from tests.conftest import Stack, fp
from tests.helpers import funded

AMOUNT = 10_000


def try_register(stack: Stack, signer: Signer, invoice: str) -> Attempt:
    """A registration through the recording entry point, which may share a transaction."""
    terms = ReceivableTerms(fp(invoice), fp("exporter"), 1, 100_000, "USD", MATURITY)
    return stack.ledger.try_register(
        signer, terms, [DeclarationTerm(fp(invoice + "/decl"), 100_000)]
    )


def nonce(stack: Stack, signer: Signer) -> int:
    return stack.chain.w3.eth.get_transaction_count(signer.address, "pending")


def sent_together(
    stack: Stack, signer: Signer, first: Callable[[], Any], calls: list[Callable[[], Any]]
) -> tuple[Background, list[Background]]:
    """``first``, then ``calls`` all at once, while the signer is busy (its lock held, as while
    another thread signs for it): ``first`` goes out alone, and ``calls``, having waited behind
    it, together. Returns them running, once all are sent."""
    queue = stack.ledger.groups.queue(signer.address, stack.ledger.address)
    before = nonce(stack, signer)
    with signer.lock:
        leader = Background(first)
        wait_until(lambda: queue.leading)
        start = threading.Barrier(len(calls))

        def at_once(call: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                start.wait()
                return call()

            return run

        followers = [Background(at_once(call)) for call in calls]
        wait_until(lambda: queue.waiting == len(calls))
    wait_until(lambda: nonce(stack, signer) >= before + 2 or not queue.leading)
    return leader, followers


def answered(
    stack: Stack, leader: Background, followers: list[Background]
) -> tuple[Any, list[Any]]:
    """Mines (the node mines only when told) until every call is answered; their outcomes."""
    while any(b.thread.is_alive() for b in [leader, *followers]):
        if pending(stack):
            rpc(stack, "evm_mine")
        threading.Event().wait(0.02)
    return leader.result(), [f.result() for f in followers]


def together(stack: Stack, signer: Signer, calls: list[Callable[[], Any]]) -> tuple[Any, list[Any]]:
    """``calls`` sent together behind a first registration, mined when told; the outcomes of the
    first and of each call."""
    with mining(stack, automine=False):
        return answered(
            stack,
            *sent_together(stack, signer, lambda: try_register(stack, signer, "first"), calls),
        )


def test_calls_sent_together_share_a_transaction_and_keep_their_own_outcomes(
    stack: Stack,
) -> None:
    """Behind a first registration: six registrations, a second registration of one of them
    (refused and recorded), and a drawdown on a receivable nobody registered (refused at
    estimation, recorded nowhere). The seven that can go out do so as one transaction; each
    caller gets its own outcome, read from its own part."""
    ledger, signer = stack.ledger, stack.bank_a.signer
    first, outcomes = together(
        stack,
        signer,
        [
            *(lambda i=i: try_register(stack, signer, f"inv-{i}") for i in range(6)),
            lambda: try_register(stack, signer, "inv-0"),
            lambda: ledger.try_finance(signer, fp("nobody registered this"), AMOUNT),
        ],
    )

    attempts, unknown = outcomes[:7], outcomes[7]
    assert first.accepted
    assert first.tx.part is None  # alone: sent as itself
    assert isinstance(unknown, errors.ReceivableNotFound)
    assert len({attempt.tx.tx_hash for attempt in attempts}) == 1
    assert sorted(attempt.tx.part for attempt in attempts) == list(range(7))
    # inv-0 twice: whichever came first registered it, the other was refused and recorded.
    refused = [attempt for attempt in attempts if not attempt.accepted]
    assert len(refused) == 1
    assert refused[0].refusal is not None
    assert refused[0].refusal.reason is RefusalReason.RECEIVABLE_ALREADY_REGISTERED
    for i in range(6):
        assert ledger.receivable(fp(f"inv-{i}")).status is ReceivableStatus.REGISTERED


def test_a_refusal_alone_in_a_group_leaves_the_others_their_calls(stack: Stack) -> None:
    """Two repayments of 60% of what is outstanding, together: each is allowed alone, together
    the second reverts, and with it the whole multicall. Tried each alone, one repays and the
    other is refused by its rule; a registration sent with them is carried out either way."""
    ledger, signer = stack.ledger, stack.bank_a.signer
    rid = register(stack, signer, "repaid twice")
    ledger.finance(signer, rid, AMOUNT)
    _, outcomes = together(
        stack,
        signer,
        [
            lambda: ledger.repay(signer, rid, AMOUNT * 6 // 10),
            lambda: ledger.repay(signer, rid, AMOUNT * 6 // 10),
            lambda: try_register(stack, signer, "beside"),
        ],
    )

    repaid = [o for o in outcomes[:2] if isinstance(o, TxResult)]
    refused = [o for o in outcomes[:2] if isinstance(o, errors.RegistryError)]
    assert len(repaid) == 1
    assert [type(r) for r in refused] == [errors.RepaymentExceedsOutstanding]
    assert ledger.receivable(rid).outstanding == AMOUNT - AMOUNT * 6 // 10
    assert outcomes[2].accepted
    assert ledger.receivable(fp("beside")).status is ReceivableStatus.REGISTERED


def test_a_group_the_state_moved_under_is_sent_again_without_the_call_it_refuses(
    stack: Stack,
) -> None:
    """Bank A's group (a full repayment and a registration) is estimated, signed and sent; before
    its block, another account of Bank A repays the receivable in full, with a higher tip, and is
    mined first in the block. The group fails and undoes both calls: sent again, the repayment is
    refused by its rule (nothing is outstanding), and the registration is carried out."""
    ledger, signer = stack.ledger, stack.bank_a.signer
    other = funded(stack, LENDER_ROLE, on=ledger)
    ledger.assign_institution(
        stack.admin.signer, other.address, ledger.institution_of(signer.address)
    )
    rid = register(stack, signer, "repaid by another account")
    ledger.finance(signer, rid, AMOUNT)
    with mining(stack, automine=False):
        leader, group = sent_together(
            stack,
            signer,
            lambda: try_register(stack, signer, "first"),
            [
                lambda: ledger.repay(signer, rid, AMOUNT),
                lambda: try_register(stack, signer, "moved under"),
            ],
        )
        wait_until(lambda: pending(stack) == 2)  # the first, and the group after it
        rival_hash = _repay_raw(stack, other, rid, AMOUNT)
        _, (repay, registration) = answered(stack, leader, group)

    rival = stack.chain.w3.eth.get_transaction_receipt(rival_hash)
    assert rival["status"] == 1
    assert isinstance(repay, errors.RuleViolation), repay
    assert repay.rule == "receivable-not-active"
    assert ledger.receivable(rid).outstanding == 0
    assert registration.accepted
    assert ledger.receivable(fp("moved under")).status is ReceivableStatus.REGISTERED
    failed = [
        stack.chain.w3.eth.get_transaction_receipt(tx)
        for tx in stack.chain.w3.eth.get_block(rival["blockNumber"])["transactions"]
    ]
    # The rival, the first registration, then the group, which failed.
    assert [r["status"] for r in failed] == [1, 1, 0]


def test_tranches_together_never_draw_past_the_cap(stack: Stack) -> None:
    """Sixteen tranches of 10,000 together on a cap of 80,000, in one transaction: eight drawn,
    eight refused and recorded, each caller told which."""
    ledger, signer = stack.ledger, stack.bank_a.signer
    rid = register(stack, signer, "tranches")
    _, outcomes = together(
        stack,
        signer,
        [lambda: ledger.try_finance(signer, rid, AMOUNT) for _ in range(16)],
    )

    drawn = [o for o in outcomes if o.refusal is None]
    refused = [o for o in outcomes if o.refusal is not None]
    assert len(drawn) == CAP // AMOUNT
    assert {type(o.error) for o in refused} == {errors.FinancingExceedsCap}
    assert ledger.receivable(rid).outstanding == CAP
    assert len({o.tx.tx_hash for o in outcomes}) == 1
    assert sorted(o.tx.part for o in outcomes) == list(range(16))


def _repay_raw(stack: Stack, signer: Signer, rid: bytes, amount: int) -> str:
    """Sends a repayment from ``signer`` with a tip above the API's, so that the node mines it
    first in the next block; its hash."""
    function = stack.ledger.contract.functions.repay(rid, amount)
    tx = function.build_transaction(
        {
            "from": signer.address,
            "nonce": stack.chain.w3.eth.get_transaction_count(signer.address),
            "gas": 300_000,
            "maxPriorityFeePerGas": 10**10,
            "maxFeePerGas": 10**11,
        }
    )
    raw = signer.sign(tx)
    return stack.chain.w3.eth.send_raw_transaction(raw).to_0x_hex()
