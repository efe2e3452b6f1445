"""The indexer against real nodes and real databases.

The projections are checked against the contract's own views, field by field; the events table
against the node's ``eth_getLogs``. Failure seams (a node that refuses wide ranges, a handler that
fails mid-chunk) are injected through the indexer's constructor, never monkeypatched.

Reorganizations are tested in ``test_reorg.py``, reads as of past blocks in
``test_point_in_time.py``; the helpers here serve all three.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_typing import ChecksumAddress
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes

from registry import errors
from registry.artifacts import load_artifact
from registry.contracts.deploy import CONTRACT_NAMES
from registry.contracts.ledger import (
    DeclarationTerm,
    ReceivableState,
    ReceivableStatus,
    ReceivableTerms,
)
from registry.db import create_schema, make_engine, schema
from registry.db.read import (
    declarations_as_of,
    projection_as_of,
    receivable_as_of,
    receivables_as_of,
)
from registry.indexer import (
    CONTRACTS,
    EVENT_TYPES,
    BlockRange,
    Decoder,
    EventRecord,
    IndexConflict,
    Indexer,
    LedgerProjections,
    Loader,
    RawLog,
    ReceivableFinanced,
    ReceivableRegistered,
    ReorgDetected,
    UndecodableLog,
    UnknownEvent,
    Web3LogSource,
    fetch_logs,
    next_range,
)
from tests.conftest import ADVANCE_RATE_BPS, Stack, fp, hx
from tests.helpers import register

MATURITY = 2_000_000_000
EXPORTER = b"\xee" * 32
# The index's record of the chain. indexed_blocks is left out: which chunk ends it keeps depends on
# how the chain was read (chunk sizes, steps taken), not on the chain; assert_kept_hashes_on_chain
# checks it.
TABLES = (
    schema.indexer_cursor,
    schema.events,
    schema.receivables,
    schema.declarations,
    schema.financings,
    schema.declaration_attestations,
    schema.advance_rates,
    schema.refused_attempts,
)
# Columns whose values depend on when or in which database a row was written, not on the chain.
VOLATILE = {"id", "updated_at"}
# ... and those that depend on the index's history (a live index that rolled back reorganizations,
# compared with a fresh replay).
HISTORY = {"reorgs", "last_reorg_depth", "last_reorg_at"}


def sqlite_engine(path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    return engine


@pytest.fixture
def sqlite_engines(tmp_path: Path) -> Iterator[Callable[[str], sa.Engine]]:
    """Fresh SQLite index databases, by name, disposed after the test."""
    made: list[sa.Engine] = []

    def make(name: str) -> sa.Engine:
        made.append(sqlite_engine(tmp_path / f"{name}.db"))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def indexer(stack: Stack, engine: sa.Engine, **options: Any) -> Indexer:
    return Indexer(engine, stack.chain, stack.deployment, **options)


def dump(engine: sa.Engine, *, history: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every index table's rows (every version of the projections), without the columns that
    depend on when they were written; ``history=False`` leaves out the reorganization counts."""
    volatile = VOLATILE if history else VOLATILE | HISTORY
    contents = {}
    with engine.connect() as connection:
        for table in TABLES:
            columns = [c for c in table.columns if c.name not in volatile]
            order = [table.c.id] if "id" in table.c else columns
            rows = connection.execute(sa.select(*columns).order_by(*order)).all()
            contents[table.name] = [tuple(row) for row in rows]
    return contents


def assert_kept_hashes_on_chain(stack: Stack, engine: sa.Engine) -> None:
    """Every block hash the index keeps is the chain's, and every block with events is kept."""
    with engine.connect() as connection:
        kept = connection.execute(sa.select(schema.indexed_blocks)).all()
        event_blocks = set(
            connection.execute(sa.select(schema.events.c.block_number).distinct()).scalars()
        )
    for number, block_hash, _events in kept:
        assert stack.chain.w3.eth.get_block(number)["hash"].to_0x_hex() == block_hash
    assert event_blocks <= {number for number, _, count in kept if count > 0}


def projected(engine: sa.Engine, receivable_id: bytes, block: int | None = None) -> ReceivableState:
    """The index's receivable (as of ``block``, None: now), in the shape of the contract's view;
    a receivable the index does not hold is the contract's empty one (status NONE)."""
    with engine.connect() as connection:
        row = receivable_as_of(connection, hx(receivable_id), block)
    if row is None:
        return ReceivableState(
            status=ReceivableStatus.NONE,
            key_version=0,
            currency="",
            maturity=0,
            registrant=None,
            financier=None,
            exporter=bytes(32),
            face_value=0,
            declared_value=0,
            cap=0,
            outstanding=0,
        )
    return ReceivableState(
        status=ReceivableStatus[row["status"].upper()],
        key_version=row["key_version"],
        currency=row["currency"],
        maturity=row["maturity"],
        registrant=row["registrant"],
        financier=row["financier"],
        exporter=bytes(HexBytes(row["exporter"])),
        face_value=row["face_value"],
        declared_value=row["declared_value"],
        cap=row["cap"],
        outstanding=row["outstanding"],
    )


def linked_declarations(engine: sa.Engine, block: int | None = None) -> dict[str, tuple[str, int]]:
    """The declarations linked as of ``block`` (None: now): fingerprint -> (receivable, value)."""
    with engine.connect() as connection:
        rows = declarations_as_of(connection, block)
    return {row["fingerprint"]: (row["receivable_id"], row["value"]) for row in rows}


def chain_logs(stack: Stack) -> list[RawLog]:
    """Every log of the deployment's contracts from its deployment, straight from the node."""
    return list(
        stack.chain.w3.eth.get_logs(
            {
                "address": [c.address for c in stack.deployment.contracts.values()],
                "fromBlock": stack.deployment.deployment_block,
                "toBlock": stack.chain.block_number(),
            }
        )
    )


def event_names() -> dict[bytes, str]:
    abis = [load_artifact(name).abi for name in CONTRACT_NAMES]
    return {
        event_abi_to_log_topic(e): e["name"]  # type: ignore[arg-type]
        for abi in abis
        for e in abi
        if e["type"] == "event"
    }


def lifecycle(stack: Stack) -> dict[str, bytes]:
    """Two financed receivables (one partly repaid, one settled), a cancelled one, one
    re-registered after cancellation and one under a changed advance rate (which moves every live
    receivable's cap: the ledger applies the rates in force at each drawdown)."""
    a, b = stack.bank_a.signer, stack.bank_b.signer
    ids = {
        "partly": register(stack, a, "INV-1", ("D1", 60_000), ("D2", 50_000)),
        "settled": register(stack, b, "INV-2", ("D3", 50_000)),
        "again": register(stack, b, "INV-3", ("D4", 30_000), ("D5", 10_000)),
        "cancelled": register(stack, a, "INV-5", ("D6", 70_000)),
    }
    stack.ledger.finance(a, ids["partly"], 50_000)
    stack.ledger.finance(a, ids["partly"], 20_000)
    stack.ledger.repay(a, ids["partly"], 30_000)
    stack.ledger.finance(b, ids["settled"], 40_000)
    stack.ledger.repay(b, ids["settled"], 15_000)
    stack.ledger.repay(b, ids["settled"], 25_000)
    stack.ledger.cancel(b, ids["again"])
    register(stack, a, "INV-3", ("D5", 10_000), ("D7", 5_000), face_value=20_000)
    stack.ledger.cancel(a, ids["cancelled"])
    stack.ledger.set_advance_rates(stack.admin.signer, 9_000, 9_000)
    ids["new rate"] = register(stack, b, "INV-6", ("D8", 100_000))
    return ids


def assert_matches_chain(
    stack: Stack, engine: sa.Engine, ids: dict[str, bytes], block: int | None = None
) -> None:
    """The index agrees with the contract's views (as of ``block``, None: now) on the receivables
    ``ids`` (their declarations in the contract's order included) and on every declaration it
    holds linked (link, standing, counted value and balance)."""
    at: int | str = "latest" if block is None else block
    with engine.connect() as connection:
        rows = declarations_as_of(connection, block)
    for receivable_id in ids.values():
        on_chain_state = stack.ledger.receivable(receivable_id, at)
        assert projected(engine, receivable_id, block) == on_chain_state
        if on_chain_state.status not in (ReceivableStatus.NONE, ReceivableStatus.CANCELLED):
            listed = sorted(
                (row["list_index"], row["fingerprint"])
                for row in rows
                if row["receivable_id"] == hx(receivable_id)
            )
            assert [fingerprint for _, fingerprint in listed] == [
                hx(d) for d in stack.ledger.declarations_of(receivable_id, at)
            ]
    for row in rows:
        on_chain = stack.ledger.declaration(bytes(HexBytes(row["fingerprint"])), at)
        assert on_chain.receivable is not None
        assert (
            hx(on_chain.receivable),
            on_chain.declared_value,
            on_chain.standing.name.lower(),
            on_chain.counted_value,
            on_chain.outstanding,
        ) == (
            row["receivable_id"],
            row["value"],
            row["standing"],
            row["counted_value"],
            row["outstanding"],
        )


def test_projections_equal_the_contract_views(stack: Stack, engine: sa.Engine) -> None:
    ids = lifecycle(stack)
    a, b = stack.bank_a.signer.address, stack.bank_b.signer.address

    events = indexer(stack, engine).run_until_caught_up()

    assert_matches_chain(stack, engine, ids)
    assert projected(engine, ids["partly"]).status is ReceivableStatus.FINANCED
    assert projected(engine, ids["settled"]).status is ReceivableStatus.SETTLED
    assert projected(engine, ids["cancelled"]).status is ReceivableStatus.CANCELLED
    assert projected(engine, ids["again"]).declared_value == 15_000
    assert projected(engine, ids["new rate"]).cap == 90_000
    with engine.connect() as connection:
        rates = receivables_as_of(connection)
        assert {row["id"]: row["advance_rate_bps"] for row in rates} == {
            hx(ids["partly"]): ADVANCE_RATE_BPS,
            hx(ids["settled"]): ADVANCE_RATE_BPS,
            hx(ids["again"]): ADVANCE_RATE_BPS,
            hx(ids["cancelled"]): ADVANCE_RATE_BPS,
            hx(ids["new rate"]): 9_000,
        }

    # Declarations: every live link, and none of a cancelled receivable (the contract freed D4, D6).
    assert linked_declarations(engine) == {
        hx(fp("D1")): (hx(ids["partly"]), 60_000),
        hx(fp("D2")): (hx(ids["partly"]), 50_000),
        hx(fp("D3")): (hx(ids["settled"]), 50_000),
        hx(fp("D5")): (hx(ids["again"]), 10_000),
        hx(fp("D7")): (hx(ids["again"]), 5_000),
        hx(fp("D8")): (hx(ids["new rate"]), 100_000),
    }
    assert stack.ledger.receivable_of_declaration(fp("D4")) is None
    assert stack.ledger.receivable_of_declaration(fp("D6")) is None

    f = schema.financings
    with engine.connect() as connection:
        financings = connection.execute(
            sa.select(
                f.c.receivable_id, f.c.bank, f.c.kind, f.c.amount, f.c.outstanding_after
            ).order_by(f.c.block_number, f.c.log_index)
        ).all()
    assert [tuple(row) for row in financings] == [
        (hx(ids["partly"]), a, "drawdown", 50_000, 50_000),
        (hx(ids["partly"]), a, "drawdown", 20_000, 70_000),
        (hx(ids["partly"]), a, "repayment", 30_000, 40_000),
        (hx(ids["settled"]), b, "drawdown", 40_000, 40_000),
        (hx(ids["settled"]), b, "repayment", 15_000, 25_000),
        (hx(ids["settled"]), b, "repayment", 25_000, 0),
    ]

    # The events table is the node's log list, in chain order, each decoded under its own name.
    logs = chain_logs(stack)
    names = event_names()
    expected = [
        (
            log["blockNumber"],
            log["blockHash"].to_0x_hex(),
            log["transactionHash"].to_0x_hex(),
            log["transactionIndex"],
            log["logIndex"],
            log["address"],
            names[bytes(log["topics"][0])],
        )
        for log in logs
    ]
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                schema.events.c.block_number,
                schema.events.c.block_hash,
                schema.events.c.tx_hash,
                schema.events.c.tx_index,
                schema.events.c.log_index,
                schema.events.c.contract,
                schema.events.c.event,
            ).order_by(schema.events.c.id)
        ).all()
    assert [tuple(row) for row in rows] == sorted(expected, key=lambda e: (e[0], e[3], e[4]))
    assert events == len(logs)
    # The ledger's own logs (the other contracts' are in test_pledges, test_consents, test_access).
    assert Counter(e[-1] for e in expected if e[5] == stack.ledger.address) == {
        # The proxy's creation: the code it runs, then its set-up.
        "Upgraded": 1,
        "Initialized": 1,
        # The admin at set-up, then LENDER for both banks and VERIFIER for customs.
        "RoleGranted": 4,
        "AdvanceRatesSet": 2,
        "ReceivableRegistered": 6,
        "DeclarationLinked": 9,
        "DeclarationCounted": 9,
        "ReceivableFinanced": 3,
        # INV-1's first drawdown fills D1 and spills onto D2; its repayment releases both.
        "DeclarationFinanced": 4,
        "ReceivableRepaid": 3,
        "DeclarationRepaid": 4,
        "ReceivableCancelled": 2,
    }


def test_attestations_policy_balances_and_refusals_are_projected(
    stack: Stack, engine: sa.Engine
) -> None:
    """Attestations (before and after a declaration is presented), a policy change moving every
    live cap, per-declaration balances and both kinds of recorded refusal."""
    a, b, ledger = stack.bank_a.signer, stack.bank_b.signer, stack.ledger
    customs = stack.verifier.signer
    ledger.attest_declaration(customs, fp("D9"), EXPORTER, 5_000, 1_700_000_000)  # never presented
    rid = register(stack, a, "INV-1", ("D1", 60_000), ("D2", 50_000))
    ledger.attest_declaration(customs, fp("D1"), EXPORTER, 40_000, 1_700_000_001)
    ledger.finance(a, rid, 50_000)  # D1 up to its 32,000, then 18,000 on D2
    before_policy = stack.chain.block_number()
    ledger.set_advance_rates(stack.admin.signer, 9_000, 5_000)
    refused_registration = ledger.try_register(
        b,
        ReceivableTerms(fp("INV-2"), EXPORTER, 1, 10_000, "USD", MATURITY),
        [DeclarationTerm(fp("D1"), 10_000)],
    )
    refused_financing = ledger.try_finance(b, rid, 1_000)
    ledger.repay(a, rid, 20_000)  # D2's 18,000, then 2,000 of D1's

    indexer(stack, engine).run_until_caught_up()

    assert_matches_chain(stack, engine, {"INV-1": rid})
    assert_matches_chain(stack, engine, {"INV-1": rid}, before_policy)
    assert projected(engine, rid).cap == 36_000 + 25_000
    assert projected(engine, rid, before_policy).cap == 32_000 + 40_000
    # The policy moved the cap without a version of the receivable: a policy change writes its
    # own row only, however many receivables are live (the cap is computed on read).
    policy_block = before_policy + 1
    with engine.connect() as connection:
        written = {
            table.name: connection.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.valid_from_block == policy_block)
            ).scalar_one()
            for table, _ in schema.VERSIONED.values()
        }
    assert {name: n for name, n in written.items() if n} == {"advance_rates": 1}
    with engine.connect() as connection:
        attested = {
            row["fingerprint"]: (row["exporter"], row["attested_value"], row["export_date"])
            for row in projection_as_of(connection, schema.declaration_attestations)
        }
        rates = [
            (row["verified_bps"], row["unverified_bps"], row["valid_to_block"] is None)
            for row in connection.execute(
                sa.select(schema.advance_rates).order_by(schema.advance_rates.c.valid_from_block)
            ).mappings()
        ]
        refusals = [
            dict(row)
            for row in connection.execute(
                sa.select(schema.refused_attempts).order_by(schema.refused_attempts.c.block_number)
            ).mappings()
        ]
    assert attested == {
        hx(fp("D9")): (hx(EXPORTER), 5_000, 1_700_000_000),
        hx(fp("D1")): (hx(EXPORTER), 40_000, 1_700_000_001),
    }
    assert rates == [(ADVANCE_RATE_BPS, ADVANCE_RATE_BPS, False), (9_000, 5_000, True)]
    bank_b = hx(ledger.institution_of(b.address))
    assert [{k: v for k, v in row.items() if k != "id"} for row in refusals] == [
        {
            "block_number": refused_registration.tx.block_number,
            "log_index": 0,
            "tx_hash": refused_registration.tx.tx_hash,
            "contract": ledger.address,
            "action": "register",
            "reason": "declaration-linked-to-other-invoice",
            "receivable_id": hx(fp("INV-2")),
            "document": hx(fp("D1")),
            "institution": bank_b,
            "account": b.address,
            "amount": 10_000,
            "conflict": hx(rid),
            "headroom": None,
            "financier": None,
        },
        {
            "block_number": refused_financing.tx.block_number,
            "log_index": 0,
            "tx_hash": refused_financing.tx.tx_hash,
            "contract": ledger.address,
            "action": "finance",
            "reason": "receivable-held-by-other-bank",
            "receivable_id": hx(rid),
            "document": hx(rid),
            "institution": bank_b,
            "account": b.address,
            "amount": 1_000,
            "conflict": None,
            "headroom": 0,
            "financier": a.address,
        },
    ]


def test_event_args_are_json_with_decimal_strings(stack: Stack, engine: sa.Engine) -> None:
    big = 2**95  # far beyond 2**64 and JSON's 2**53, within the ledger's 2**96 - 1
    register(stack, stack.bank_b.signer, "INV-BIG", ("D2", big), face_value=big)
    indexer(stack, engine).run_until_caught_up()

    with engine.connect() as connection:
        args = {
            row.event: row.args
            for row in connection.execute(
                sa.select(schema.events.c.event, schema.events.c.args).where(
                    schema.events.c.event.in_(["ReceivableRegistered", "DeclarationLinked"])
                )
            )
        }
    assert args["ReceivableRegistered"] == {
        "id": hx(fp("INV-BIG")),
        "registrant": stack.bank_b.signer.address,
        "exporter": hx(EXPORTER),
        "keyVersion": "1",
        "faceValue": str(big),
        "currency": "USD",
        "maturity": str(MATURITY),
        "advanceRateBps": str(ADVANCE_RATE_BPS),
        "cap": str(big * ADVANCE_RATE_BPS // 10_000),
    }
    assert args["DeclarationLinked"] == {
        "declaration": hx(fp("D2")),
        "id": hx(fp("INV-BIG")),
        "value": str(big),
    }
    # uint256 stays exact in the projection on SQLite and PostgreSQL alike.
    assert projected(engine, fp("INV-BIG")).face_value == big


def test_a_maturity_beyond_64_signed_bits_is_indexed_exactly(
    stack: Stack, engine: sa.Engine
) -> None:
    # The contract takes any uint64 maturity from a bank; a column of signed 64 bits would refuse
    # it and stop the index for everybody.
    never = 2**64 - 1
    register(stack, stack.bank_b.signer, "INV-NEVER", ("D-NEVER", 1_000), maturity=never)
    indexer(stack, engine).run_until_caught_up()

    assert projected(engine, fp("INV-NEVER")) == stack.ledger.receivable(fp("INV-NEVER"))
    assert projected(engine, fp("INV-NEVER")).maturity == never


def _sample_value(record: type[EventRecord], annotation: str, n: int) -> Any:
    """A value of the annotated type, awkward for JSON where it can be: integers beyond 2**53,
    free text with a quote, a backslash, a control character and a non-ASCII one."""
    if annotation == "int":
        return 2**95 + n
    if annotation == "HexStr":
        return hx(fp(f"sample {n}"))
    if annotation == "ChecksumAddress":
        return to_checksum_address(fp(f"account {n}")[:20])
    if annotation == "str":
        return 'U"S\\D\x01\u00e9'
    kind = getattr(sys.modules[record.__module__], annotation)
    return list(kind)[-1]


@pytest.mark.parametrize("record", sorted(EVENT_TYPES.values(), key=lambda r: r.__name__))
def test_args_json_is_the_compact_json_of_args(record: type[EventRecord]) -> None:
    values = {
        f.name: _sample_value(record, str(f.type), n)
        for n, f in enumerate(dataclasses.fields(record))
    }
    sample = record(**values)
    assert sample.args_json() == json.dumps(sample.args(), separators=(",", ":"))
    assert json.loads(sample.args_json()) == sample.args()


@pytest.mark.parametrize("attempt", ["declaration under a second invoice", "beyond the cap"])
def test_refused_operation_changes_neither_chain_nor_index(
    stack: Stack, engine: sa.Engine, attempt: str
) -> None:
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 10_000)
    index = indexer(stack, engine)
    index.run_until_caught_up()
    before = dump(engine)
    tip = stack.tip()

    if attempt == "beyond the cap":
        with pytest.raises(errors.FinancingExceedsCap) as raised:
            stack.ledger.finance(stack.bank_a.signer, rid, 70_001)
        assert raised.value.rule == "financing-exceeds-cap"
        assert raised.value.details == {"id": hx(rid), "amount": 70_001, "headroom": 62_000}
    else:
        with pytest.raises(errors.DeclarationLinkedToOtherInvoice) as raised:
            register(stack, stack.bank_b.signer, "INV-2", ("D9", 5_000), ("D1", 90_000))
        assert raised.value.rule == "declaration-linked-to-other-invoice"
        assert raised.value.details == {"declaration": hx(fp("D1")), "linkedReceivable": hx(rid)}

    # No block, and the head's hash (which commits to the state) as before.
    assert stack.tip() == tip
    assert index.step() == 0
    assert index.run_until_caught_up() == 0
    assert dump(engine) == before
    assert before["events"]  # the comparison is over a populated index


def test_rerun_is_idempotent(stack: Stack, engine: sa.Engine) -> None:
    ids = lifecycle(stack)
    index = indexer(stack, engine)
    index.run_until_caught_up()
    indexed = dump(engine)

    # Caught up: nothing more to do.
    assert index.step() == 0
    assert dump(engine) == indexed

    # Forget the cursor: every chunk is applied a second time, and nothing is added twice.
    with engine.begin() as connection:
        connection.execute(sa.delete(schema.indexer_cursor))
    assert index.run_until_caught_up() == len(indexed["events"])
    assert dump(engine) == indexed
    assert_matches_chain(stack, engine, ids)


def test_tiny_chunks_give_the_same_index_as_one_big_chunk(
    stack: Stack, sqlite_engines: Callable[[str], sa.Engine]
) -> None:
    lifecycle(stack)
    big, tiny = sqlite_engines("big"), sqlite_engines("tiny")
    span = stack.chain.block_number() - stack.deployment.deployment_block + 1

    indexer(stack, big, chunk_size=10_000).run_until_caught_up()
    tiny_indexer = indexer(stack, tiny, chunk_size=1)
    steps = 0
    while tiny_indexer.advance().block_range is not None:
        steps += 1

    assert steps == span
    assert dump(tiny) == dump(big)


def test_failing_handler_leaves_neither_rows_nor_cursor(stack: Stack, engine: sa.Engine) -> None:
    register(stack, stack.bank_a.signer, "INV-0", ("D0", 10_000))
    index = indexer(stack, engine)
    index.run_until_caught_up()
    before = dump(engine)
    status = index.status()

    # One chunk: a registration (applied first), then a drawdown whose handler fails.
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 10_000)

    applied_before_failure: list[str | None] = []

    def explode(projections: LedgerProjections, event: ReceivableFinanced) -> None:
        # Proof that the chunk's earlier events were applied before this one failed.
        registered = projections.receivables.get(hx(rid))
        applied_before_failure.append(None if registered is None else registered["status"])
        raise RuntimeError("handler failed mid-chunk")

    loader = Loader(CONTRACTS, {ReceivableFinanced: explode})
    failing = indexer(stack, engine, loader=loader)
    with pytest.raises(RuntimeError, match="mid-chunk"):
        failing.step()

    assert applied_before_failure == ["registered"]
    assert dump(engine) == before
    assert failing.status().indexed_block == status.indexed_block
    # A working indexer then picks the same chunk up whole: DeclarationLinked,
    # DeclarationCounted, ReceivableRegistered, DeclarationFinanced, ReceivableFinanced.
    assert index.run_until_caught_up() == 5
    assert projected(engine, rid) == stack.ledger.receivable(rid)


def test_failing_handler_on_an_empty_index_leaves_it_empty(stack: Stack, engine: sa.Engine) -> None:
    # The first chunk holds the deployment's role grants, applied before the failing registration.
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))

    def explode(projections: LedgerProjections, event: ReceivableRegistered) -> None:
        raise RuntimeError("boom")

    loader = Loader(CONTRACTS, {ReceivableRegistered: explode})
    with pytest.raises(RuntimeError, match="boom"):
        indexer(stack, engine, loader=loader).step()
    assert all(rows == [] for rows in dump(engine).values())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_only_pause_gc_touches_the_garbage_collector(stack: Stack, engine: sa.Engine) -> None:
    """The pause is process-wide: off by default (``creditreg up`` serves the API in the
    indexer's process), on only where asked (``creditreg index``), and undone after the chunk."""
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    seen: list[bool] = []

    def watch(projections: LedgerProjections, event: ReceivableRegistered) -> None:
        seen.append(gc.isenabled())

    loader = Loader(CONTRACTS, {ReceivableRegistered: watch})
    assert gc.isenabled()
    indexer(stack, engine, loader=loader).run_until_caught_up()
    assert seen == [True]
    assert gc.isenabled()

    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    indexer(stack, engine, loader=loader, pause_gc=True).run_until_caught_up()
    assert seen == [True, False]
    assert gc.isenabled()


class NarrowNode:
    """A log source that refuses ranges wider than ``max_width`` blocks, as real nodes do."""

    def __init__(self, inner: Web3LogSource, max_width: int) -> None:
        self.inner = inner
        self.max_width = max_width
        self.requests: list[tuple[int, int, bool]] = []

    def __call__(
        self, addresses: Sequence[ChecksumAddress], from_block: int, to_block: int
    ) -> Sequence[RawLog]:
        refused = to_block - from_block + 1 > self.max_width
        self.requests.append((from_block, to_block, not refused))
        if refused:
            raise errors.ChainError(f"range {from_block}..{to_block} too wide")
        return self.inner(addresses, from_block, to_block)


def test_refused_ranges_are_halved_and_every_event_still_arrives(
    stack: Stack, sqlite_engines: Callable[[str], sa.Engine]
) -> None:
    lifecycle(stack)
    reference, narrow = sqlite_engines("reference"), sqlite_engines("narrow")
    indexer(stack, reference).run_until_caught_up()

    node = NarrowNode(Web3LogSource(stack.chain.w3), max_width=2)
    indexer(stack, narrow, chunk_size=50, log_source=node).run_until_caught_up()

    assert dump(narrow) == dump(reference)
    served = [(start, end) for start, end, ok in node.requests if ok]
    assert any(not ok for *_, ok in node.requests)
    assert all(end - start + 1 <= 2 for start, end in served)
    # The served ranges tile the indexed blocks exactly once, in order.
    blocks = [b for start, end in served for b in range(start, end + 1)]
    assert blocks == list(range(stack.deployment.deployment_block, stack.chain.block_number() + 1))


def test_a_single_block_the_node_refuses_raises_and_writes_nothing(
    stack: Stack, engine: sa.Engine
) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    node = NarrowNode(Web3LogSource(stack.chain.w3), max_width=0)
    with pytest.raises(errors.ChainError, match="single block") as raised:
        indexer(stack, engine, log_source=node).step()
    assert raised.value.rule == "chain-unavailable"
    assert all(rows == [] for rows in dump(engine).values())


def test_fetch_logs_halves_down_to_one_block() -> None:
    calls: list[tuple[int, int]] = []

    def source(addresses: Sequence[ChecksumAddress], start: int, end: int) -> list[RawLog]:
        calls.append((start, end))
        if end - start >= 2:
            raise errors.ChainError("too wide")
        return [{"blockNumber": b} for b in range(start, end + 1)]

    logs = fetch_logs(source, [], BlockRange(10, 17))
    assert [log["blockNumber"] for log in logs] == list(range(10, 18))
    assert calls[0] == (10, 17)
    assert (10, 13) in calls
    assert next_range(9, 17, 100) == BlockRange(10, 17)
    assert next_range(9, 100, 5) == BlockRange(10, 14)
    assert next_range(17, 17, 5) is None


def test_a_cursor_the_chain_contradicts_rolls_back_to_the_last_kept_block(
    stack: Stack, sqlite_engines: Callable[[str], sa.Engine]
) -> None:
    """A stored hash that is not the chain's is what a reorganization looks like to the index;
    real ones are in test_reorg.py."""
    engine, fresh = sqlite_engines("live"), sqlite_engines("fresh")
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = indexer(stack, engine)
    index.run_until_caught_up()
    cursor_block = index.status().indexed_block
    with engine.connect() as connection:
        below = connection.execute(
            sa.select(sa.func.max(schema.indexed_blocks.c.number)).where(
                schema.indexed_blocks.c.number < cursor_block
            )
        ).scalar_one()
    bogus = "0x" + "ab" * 32
    with engine.begin() as connection:
        connection.execute(sa.update(schema.indexer_cursor).values(block_hash=bogus))
        connection.execute(
            sa.update(schema.indexed_blocks)
            .where(schema.indexed_blocks.c.number == cursor_block)
            .values(hash=bogus)
        )
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))

    result = index.advance()

    assert result.rollback is not None
    assert result.rollback.ancestor.block_number == below
    assert result.rollback.depth == cursor_block - below
    index.run_until_caught_up()
    status = index.status()
    assert (status.reorgs, status.last_reorg_depth) == (1, cursor_block - below)
    indexer(stack, fresh).run_until_caught_up()
    assert dump(engine, history=False) == dump(fresh, history=False)
    assert_kept_hashes_on_chain(stack, engine)


def test_a_reorg_deeper_than_the_kept_hashes_is_detected(stack: Stack, engine: sa.Engine) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = indexer(stack, engine)
    index.run_until_caught_up()
    indexed_block = index.status().indexed_block
    bogus = "0x" + "ab" * 32
    with engine.begin() as connection:
        connection.execute(sa.update(schema.indexer_cursor).values(block_hash=bogus))
        connection.execute(sa.update(schema.indexed_blocks).values(hash=bogus))
    before = dump(engine)
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))

    with pytest.raises(ReorgDetected) as raised:
        index.step()
    assert raised.value.rule == "reorg-detected"
    assert raised.value.details == {
        "block_number": indexed_block,
        "indexed_hash": bogus,
        "chain_hash": stack.chain.w3.eth.get_block(indexed_block)["hash"].to_0x_hex(),
    }
    assert "deeper than the index's history" in raised.value.message
    assert dump(engine) == before
    # run_forever retries chain errors, but not this one: it would never succeed.
    with pytest.raises(ReorgDetected, match="deeper than the index's history") as again:
        index.run_forever(threading.Event())
    assert (again.value.rule, again.value.details) == ("reorg-detected", raised.value.details)
    assert dump(engine) == before


def test_a_log_at_an_indexed_position_with_another_hash_is_a_conflict(
    stack: Stack, engine: sa.Engine
) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    index = indexer(stack, engine)
    index.run_until_caught_up()
    with engine.begin() as connection:
        connection.execute(sa.update(schema.events).values(block_hash="0x" + "cd" * 32))
        connection.execute(sa.delete(schema.indexer_cursor))
    before = dump(engine)
    with pytest.raises(IndexConflict, match="the index holds another log at block") as raised:
        index.run_until_caught_up()
    assert raised.value.rule == "index-conflict"
    first = min(row[0] for row in before["events"])
    assert raised.value.details == {"block_number": first, "log_index": 0}
    assert dump(engine) == before


def test_unknown_topic_from_our_contract_is_an_error(stack: Stack) -> None:
    decoder = Decoder.for_deployment(stack.deployment, EVENT_TYPES)
    log: RawLog = {
        "address": stack.ledger.address,
        "topics": ["0x" + "12" * 32],
        "data": "0x",
        "blockNumber": 7,
        "blockHash": "0x" + "00" * 32,
        "transactionHash": "0x" + "00" * 32,
        "transactionIndex": 0,
        "logIndex": 3,
        "removed": False,
    }
    with pytest.raises(UnknownEvent) as raised:
        decoder.decode(log)
    assert raised.value.rule == "unknown-event"
    assert raised.value.details == {"contract": stack.ledger.address, "topic0": "0x" + "12" * 32}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"data": "0x" + "00" * 31}, "bytes of topics and data"),
        ({"data": "0x" + "00" * 33}, "bytes of topics and data"),
        ({"topics": ["TOPIC0", "0x" + "11" * 32]}, "indexed topics"),
        ({"data": "0x" + "zz" * 32}, "not hex"),
        # The bank's address topic with non-zero padding above its 20 bytes.
        ({"topics": ["TOPIC0", "0x" + "11" * 32, "0x01" + "00" * 11 + "22" * 20]}, "padding"),
    ],
)
def test_malformed_logs_are_undecodable(stack: Stack, change: dict[str, Any], problem: str) -> None:
    """The word-slicing decoder keeps eth_abi's strict rules."""
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 10_000)
    raw = stack.chain.w3.provider.make_request(  # type: ignore[arg-type]
        "eth_getLogs", [{"address": stack.ledger.address, "fromBlock": "latest"}]
    )["result"]
    financed = {**raw[-1]}
    decoder = Decoder.for_deployment(stack.deployment, EVENT_TYPES)
    assert isinstance(decoder.decode(financed), ReceivableFinanced)
    if "topics" in change:
        change = {"topics": [financed["topics"][0], *change["topics"][1:]]}
    with pytest.raises(UndecodableLog, match=problem) as raised:
        decoder.decode({**financed, **change})
    assert raised.value.rule == "undecodable-log"


def test_recorded_logs_decode_like_live_ones(stack: Stack) -> None:
    """Logs recorded as plain JSON (hex strings) decode to the same records as web3's."""
    rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    stack.ledger.finance(stack.bank_a.signer, rid, 10_000)
    stack.ledger.repay(stack.bank_a.signer, rid, 10_000)
    live = chain_logs(stack)
    recorded: list[RawLog] = [
        {
            **log,
            "blockHash": log["blockHash"].to_0x_hex(),
            "transactionHash": log["transactionHash"].to_0x_hex(),
            "data": HexBytes(log["data"]).to_0x_hex(),
            "topics": [HexBytes(t).to_0x_hex() for t in log["topics"]],
            "blockNumber": hex(log["blockNumber"]),
            "transactionIndex": hex(log["transactionIndex"]),
            "logIndex": hex(log["logIndex"]),
        }
        for log in live
    ]
    decoder = Decoder.for_deployment(stack.deployment, EVENT_TYPES)
    assert decoder.decode_all(recorded) == decoder.decode_all(live)
    repaid = decoder.decode_all(live)[-1]
    assert repaid.event == "ReceivableRepaid"
    assert repaid.args()["status"] == str(int(ReceivableStatus.SETTLED))


def test_indexes_on_anvil_and_ganache(any_stack: Stack, tmp_path: Path) -> None:
    stack = any_stack
    a = stack.bank_a.signer
    ids = {
        "financed": register(stack, a, "INV-1", ("D1", 60_000), ("D2", 50_000)),
        "cancelled": register(stack, stack.bank_b.signer, "INV-2", ("D3", 10_000)),
    }
    stack.ledger.finance(a, ids["financed"], 60_000)
    stack.ledger.repay(a, ids["financed"], 1_000)
    stack.ledger.cancel(stack.bank_b.signer, ids["cancelled"])
    engine = sqlite_engine(tmp_path / "index.db")
    try:
        index = indexer(stack, engine, chunk_size=3)
        assert index.run_until_caught_up() == len(chain_logs(stack))
        assert_matches_chain(stack, engine, ids)
        status = index.status()
        assert (status.indexed_block, status.lag) == (stack.chain.block_number(), 0)
        assert (
            status.indexed_hash
            == stack.chain.w3.eth.get_block(status.indexed_block)["hash"].to_0x_hex()
        )
    finally:
        engine.dispose()


def test_confirmations_keep_the_index_behind_the_head(stack: Stack, engine: sa.Engine) -> None:
    register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
    register(stack, stack.bank_a.signer, "INV-2", ("D2", 90_000))
    index = indexer(stack, engine, confirmations=1)
    assert index.status().indexed_block is None
    index.run_until_caught_up()
    status = index.status()
    assert status.indexed_block == status.head - 1
    assert status.lag == 1
    assert status.caught_up
    with engine.connect() as connection:
        ids = [row["id"] for row in receivables_as_of(connection)]
    assert ids == [hx(fp("INV-1"))]


def test_run_forever_follows_the_chain_until_stopped(stack: Stack, engine: sa.Engine) -> None:
    index = indexer(stack, engine, poll_interval=0.05)
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            index.run_forever(stop)
        except BaseException as error:  # surfaced to the test thread below
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        rid = register(stack, stack.bank_a.signer, "INV-1", ("D1", 90_000))
        stack.ledger.finance(stack.bank_a.signer, rid, 5_000)
        head = stack.chain.block_number()
        deadline = time.monotonic() + 30
        while (index.status().indexed_block or 0) < head and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert failures == []
    assert projected(engine, rid) == stack.ledger.receivable(rid)
