"""Reading the projections as of a past block: the index at block B equals the contract at B.

The chain is given several changes to one receivable in one block (multicall), a declaration
linked and unlinked in the same block, a cancellation that frees a declaration, a re-registration
that takes it again, and a change of advance rate. Then every block from the deployment to the
head is read back from the index and compared with the contract's views at that block
(an ``eth_call`` at a block number), for chunk sizes that close versions within a chunk and
across chunks alike.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from registry.chain.client import Signer
from registry.contracts.consents import SCOPE_CREDIT_REPORT, institution_id
from registry.db import schema
from registry.db.read import (
    consent_as_of,
    financings_as_of,
    projection_as_of,
    receivable_as_of,
    receivables_as_of,
    title_as_of,
)
from registry.indexer import Indexer
from tests.conftest import Stack, fp, hx, swept_on_sqlite
from tests.indexer.test_consents import assert_consents_match_chain, enterprise
from tests.indexer.test_consents import history as consent_history
from tests.indexer.test_indexer import (
    EXPORTER,
    MATURITY,
    assert_matches_chain,
    linked_declarations,
    register,
)
from tests.indexer.test_pledges import assert_pledges_match_chain
from tests.indexer.test_pledges import history as pledge_history

DECLARATIONS = ("D1", "D2", "D3", "D4", "D5")


def multicall(stack: Stack, signer: Signer, *calls: tuple[str, list[Any]]) -> int:
    """Several ledger calls in one transaction, so one block; returns the block."""
    contract = stack.ledger.contract
    data = [contract.encode_abi(name, args=args) for name, args in calls]
    return stack.chain.transact(signer, contract.functions.multicall(data)).block_number


def registration(invoice: str, *declarations: tuple[str, int]) -> tuple[str, list[Any]]:
    terms = (fp(invoice), EXPORTER, 1, 100_000, b"USD", MATURITY)
    return ("registerReceivable", [terms, [(fp(d), value) for d, value in declarations], []])


def history(stack: Stack) -> dict[str, bytes]:
    a, b = stack.bank_a.signer, stack.bank_b.signer
    ids = {
        "r1": register(stack, a, "INV-1", ("D1", 60_000), ("D2", 50_000)),
        "r2": register(stack, b, "INV-2", ("D3", 40_000)),
        "r4": fp("INV-4"),
    }
    # Three changes to INV-1 in one block: one version, the state at the block's end.
    multicall(
        stack,
        a,
        ("finance", [ids["r1"], 10_000]),
        ("finance", [ids["r1"], 5_000]),
        ("repay", [ids["r1"], 3_000]),
    )
    stack.ledger.cancel(b, ids["r2"])  # frees D3
    # INV-2 registered again, taking D3 back and a new D5.
    register(stack, b, "INV-2", ("D3", 20_000), ("D5", 1_000), face_value=30_000)
    # D4 linked and freed within one block: no version of it at any block's end.
    multicall(stack, b, registration("INV-4", ("D4", 7_000)), ("cancel", [ids["r4"]]))
    # Customs attests D5 lower than declared: INV-2's cap moves at that block.
    stack.ledger.attest_declaration(stack.verifier.signer, fp("D5"), EXPORTER, 500, 1_700_000_000)
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 9_000)
    stack.ledger.repay(a, ids["r1"], 12_000)  # settles INV-1
    stack.ledger.finance(b, ids["r2"], 1_000)
    return ids


@swept_on_sqlite("chunk_size", [1, 3, 1000], representative=1)
def test_every_past_block_reads_as_the_contract_saw_it(
    stack: Stack, engine: sa.Engine, chunk_size: int
) -> None:
    ids = history(stack)
    Indexer(engine, stack.chain, stack.deployment, chunk_size=chunk_size).run_until_caught_up()

    # From the contract's deployment on (before it, the contract has no code to ask).
    for block in range(stack.deployment.deployment_block, stack.chain.block_number() + 1):
        assert_matches_chain(stack, engine, ids, block)
        # Every declaration: linked in the index exactly when the contract has it linked.
        linked = linked_declarations(engine, block)
        for number in DECLARATIONS:
            on_chain = stack.ledger.receivable_of_declaration(fp(number), block)
            assert linked.get(hx(fp(number)), (None,))[0] == (
                None if on_chain is None else hx(on_chain)
            ), (number, block)
        with engine.connect() as connection:
            financings = financings_as_of(connection, block)
        assert all(row["block_number"] <= block for row in financings)


def test_several_changes_in_one_block_make_one_version(stack: Stack, engine: sa.Engine) -> None:
    ids = history(stack)
    Indexer(engine, stack.chain, stack.deployment, chunk_size=2).run_until_caught_up()
    r = schema.receivables
    with engine.connect() as connection:
        versions = connection.execute(
            sa.select(r.c.valid_from_block, r.c.valid_to_block, r.c.status, r.c.outstanding)
            .where(r.c.id == hx(ids["r1"]))
            .order_by(r.c.valid_from_block)
        ).all()
        d4 = connection.execute(
            sa.select(sa.func.count())
            .select_from(schema.declarations)
            .where(schema.declarations.c.fingerprint == hx(fp("D4")))
        ).scalar_one()
    registered, financed, settled = (tuple(v) for v in versions)
    # Registered, then the block of the multicall (two drawdowns and a repayment), then settled;
    # each version ends where the next starts. The new advance rates in between make no version
    # of the receivable: its cap follows them on read.
    assert registered[2:] == ("registered", 0)
    assert financed[2:] == ("financed", 12_000)
    assert settled[2:] == ("settled", 0)
    assert registered[1] == financed[0]
    assert financed[1] == settled[0]
    assert settled[1] is None
    with engine.connect() as connection:
        rates = projection_as_of(connection, schema.advance_rates, None)[0]["valid_from_block"]
        caps = [receivable_as_of(connection, hx(ids["r1"]), b)["cap"] for b in (rates - 1, rates)]
    assert caps == [stack.ledger.receivable(ids["r1"], b).cap for b in (rates - 1, rates)]
    assert caps[0] != caps[1]
    assert d4 == 0


def test_current_reads_are_as_of_the_head(stack: Stack, engine: sa.Engine) -> None:
    history(stack)
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    head = stack.chain.block_number()
    with engine.connect() as connection:
        assert receivables_as_of(connection) == receivables_as_of(connection, head)
        assert financings_as_of(connection) == financings_as_of(connection, head)
        assert receivables_as_of(connection, stack.deployment.deployment_block) == []
        with pytest.raises(ValueError, match="not a versioned projection"):
            projection_as_of(connection, schema.financings, head)


def test_pledge_ranks_and_consents_read_as_of_every_past_block(
    stack: Stack, engine: sa.Engine
) -> None:
    """A title's ranks (juniors moving up on a release) and each consent (granted, revoked,
    granted again, superseded by a rebinding, expired), one block a chunk, as the contracts saw
    them at every block."""
    pledging = pledge_history(stack)
    consenting = consent_history(stack)
    Indexer(engine, stack.chain, stack.deployment, chunk_size=1).run_until_caught_up()

    first = stack.deployment.contracts["ConsentRegistry"].block_number
    for block in range(first, stack.chain.block_number() + 1):
        assert_pledges_match_chain(stack, engine, pledging, block)
        assert_consents_match_chain(stack, engine, consenting, block)
    # Read by hand: b1 was second until the senior's release moved it up.
    p1, b1 = hx(fp("P1")), hx(pledging.pledges["b1"])
    with engine.connect() as connection:
        (approved, rank_then), (moved_up, rank_now) = connection.execute(
            sa.select(schema.pledges.c.valid_from_block, schema.pledges.c.rank)
            .where(schema.pledges.c.id == b1, schema.pledges.c.status == "active")
            .order_by(schema.pledges.c.valid_from_block)
        ).all()
        then = [row["id"] for row in title_as_of(connection, p1, moved_up - 1)]
        now = [row["id"] for row in title_as_of(connection, p1, moved_up)]
        # E1's consent to bank A: granted, then revoked, as of the blocks that changed it.
        e1, bank_a = hx(enterprise("E1").digest), hx(institution_id(stack.bank_a.signer.address))
        scope = hx(SCOPE_CREDIT_REPORT)
        changes = (
            connection.execute(
                sa.select(schema.consents.c.valid_from_block)
                .where(schema.consents.c.id == f"{e1}/{bank_a}/{scope}")
                .order_by(schema.consents.c.valid_from_block)
            )
            .scalars()
            .all()
        )
        statuses = [consent_as_of(connection, e1, bank_a, scope, b) for b in changes[:2]]
        before = consent_as_of(connection, e1, bank_a, scope, changes[0] - 1)
    assert (rank_then, rank_now) == (2, 1)
    assert approved < moved_up
    assert then[:2] == [hx(pledging.pledges["a1"]), b1]
    assert now[0] == b1
    assert before is None
    assert [row["status"] for row in statuses if row is not None] == ["granted", "revoked"]
