"""Races through the served API (api.writes): many banks at once on one receivable, and many
tranches of one bank beyond its cap, sent at the same moment over real sockets to a real uvicorn.

Each request is answered for what happened to it on chain: 201 for the drawdown that was mined, 409
with its rule for the one a rule refused (and the refusal recorded on chain and in the index, for
auditors), never a 5xx. With the dev node mining on each transaction, and every second as a
consortium chain does (where all the requests are estimated against one state and mined in one
block, the case issue 11 found answered 503).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from api.services import Services
from registry.contracts.ledger import RefusalReason
from registry.contracts.roles import Role
from registry.credentials import DevSecrets, Institution
from registry.db import make_engine, schema
from registry.settings import Settings
from tests.api.test_api import CAP, assert_problem, registration
from tests.chain.test_transactions import in_threads, mining
from tests.conftest import Stack, indexing
from tests.helpers import with_banks
from tests.serving import serving

FINANCINGS = "/v1/receivables/{}/financings"
ZERO_ADDRESS = "0x" + "00" * 20
GENERATED_BANKS = 20
MINING = pytest.mark.parametrize("interval", [0, 1], ids=["automine", "1s-blocks"])


@pytest.fixture
def banks(stack: Stack) -> DevSecrets:
    return with_banks(stack, GENERATED_BANKS)


@pytest.fixture
def services(stack: Stack, banks: DevSecrets, database_url: str) -> Iterator[Services]:
    engine = make_engine(database_url)
    yield Services.build(engine, stack.chain, stack.deployment, banks)
    engine.dispose()


@pytest.fixture
def http(services: Services, stack: Stack, tmp_path: Path) -> Iterator[httpx.Client]:
    """A client of the API behind a real uvicorn, beside its indexer; as many connections as
    requests sent at once."""
    app = create_app(Settings(state_dir=tmp_path), services)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    with (
        indexing(stack, services.engine),
        serving(app) as served,
        httpx.Client(base_url=served.url, timeout=60, limits=limits) as client,
    ):
        yield client


def headers(bank: Institution) -> dict[str, str]:
    """A bank's key, and a fresh Idempotency-Key as a careful client sends with every write."""
    return {"X-API-Key": bank.api_key, "Idempotency-Key": str(uuid.uuid4())}


def register(http: httpx.Client, bank: Institution, **changes: Any) -> str:
    """Registers the tests' invoice (with ``changes``) for ``bank``; returns its id."""
    created = http.post("/v1/receivables", json=registration(**changes), headers=headers(bank))
    assert created.status_code == 201, created.text
    return str(created.json()["receivable_id"])


def at_once(count: int, send: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    answers: list[Any] = in_threads(count, send)
    assert all(isinstance(a, httpx.Response) for a in answers), answers
    server_errors = [(a.status_code, a.text) for a in answers if a.status_code >= 500]
    assert server_errors == []
    return answers


def recorded_refusals(stack: Stack, since: int) -> list[dict[str, Any]]:
    """The FinancingRefused events the ledger emitted after block ``since``."""
    event = stack.ledger.contract.events.FinancingRefused()
    return [dict(log["args"]) for log in event.get_logs(from_block=since + 1)]


def indexed(services: Services, table: sa.Table, receivable: str) -> list[sa.Row[Any]]:
    with services.engine.connect() as connection:
        return list(
            connection.execute(sa.select(table).where(table.c.receivable_id == receivable.lower()))
        )


@MINING
def test_twenty_banks_finance_one_receivable_at_once_and_one_holds_it(
    http: httpx.Client, services: Services, stack: Stack, banks: DevSecrets, interval: int
) -> None:
    lenders = banks.with_role(Role.LENDER)
    assert len(lenders) >= 20
    receivable = register(http, stack.bank_a)
    before = stack.chain.block_number()

    with mining(stack, automine=interval == 0, interval=interval):
        answers = at_once(
            len(lenders),
            lambda i: http.post(
                FINANCINGS.format(receivable), json={"amount": 10_000}, headers=headers(lenders[i])
            ),
        )

    statuses = [a.status_code for a in answers]
    assert sorted(statuses) == [201] + [409] * (len(lenders) - 1), statuses
    holder = lenders[statuses.index(201)]
    assert holder == stack.bank_a  # the registrant: a receivable is its own bank's to finance
    refused = [bank for bank, a in zip(lenders, answers, strict=True) if a.status_code == 409]
    for answer in answers:
        if answer.status_code == 409:
            assert_problem(answer, 409, "receivable-held-by-other-bank")
    state = stack.ledger.receivable(bytes.fromhex(receivable[2:]))
    assert (state.financier, state.outstanding) == (holder.account, 10_000)
    assert state.outstanding <= state.cap
    # Every refusal is on chain, naming the bank that tried.
    on_chain = recorded_refusals(stack, before)
    assert sorted(r["account"] for r in on_chain) == sorted(b.account for b in refused)
    assert {RefusalReason(r["reason"]) for r in on_chain} == {
        RefusalReason.RECEIVABLE_HELD_BY_OTHER_BANK
    }
    # The financier, once the holder's drawdown was mined before it (in the same block, perhaps
    # not).
    assert {r["financier"] for r in on_chain} <= {holder.account, ZERO_ADDRESS}
    # And in the index, which the answers waited for.
    rows = indexed(services, schema.refused_attempts, receivable)
    assert sorted(r.account for r in rows) == sorted(b.account for b in refused)
    assert {r.reason for r in rows} == {"receivable-held-by-other-bank"}
    (drawdown,) = indexed(services, schema.financings, receivable)
    assert (drawdown.bank, drawdown.amount) == (holder.account, 10_000)
    assert drawdown.tx_hash == answers[statuses.index(201)].json()["tx_hash"]


@MINING
def test_fifty_tranches_beyond_the_cap_draw_what_fits_and_refuse_the_rest(
    http: httpx.Client, services: Services, stack: Stack, interval: int
) -> None:
    bank = stack.bank_a
    receivable = register(http, bank)
    amounts = [1_000 + 250 * (i % 13) for i in range(50)]
    assert sum(amounts) > CAP
    before = stack.chain.block_number()

    with mining(stack, automine=interval == 0, interval=interval):
        answers = at_once(
            len(amounts),
            lambda i: http.post(
                FINANCINGS.format(receivable), json={"amount": amounts[i]}, headers=headers(bank)
            ),
        )

    assert {a.status_code for a in answers} <= {201, 409}
    drawn = [amount for amount, a in zip(amounts, answers, strict=True) if a.status_code == 201]
    refused = [amount for amount, a in zip(amounts, answers, strict=True) if a.status_code == 409]
    state = stack.ledger.receivable(bytes.fromhex(receivable[2:]))
    assert state.outstanding == sum(drawn) <= CAP == state.cap
    assert refused, "the tranches add up to more than the cap: some must be refused"
    for answer in answers:
        if answer.status_code == 409:
            problem = assert_problem(answer, 409, "financing-exceeds-cap")
            # Refused for want of headroom at its turn; headroom only shrinks.
            assert problem["details"]["headroom"] < problem["details"]["amount"]
            assert problem["details"]["headroom"] >= state.headroom
    # What is left could take none of the refused tranches.
    assert min(refused) > state.headroom
    hashes = [a.json()["tx_hash"] for a in answers if a.status_code == 201]
    # Each drawdown its own call: tranches that arrived together went out as one transaction.
    calls = {(a.json()["tx_hash"], a.json()["call_index"]) for a in answers if a.status_code == 201}
    assert len(calls) == len(drawn)
    assert len(set(hashes)) < len(drawn), "fifty tranches at once, and none shared a transaction"
    # Each refusal recorded on chain and indexed; each drawdown indexed with its own answer.
    on_chain = recorded_refusals(stack, before)
    assert sorted(r["amount"] for r in on_chain) == sorted(refused)
    assert {RefusalReason(r["reason"]) for r in on_chain} == {RefusalReason.FINANCING_EXCEEDS_CAP}
    assert sorted(r.amount for r in indexed(services, schema.refused_attempts, receivable)) == (
        sorted(refused)
    )
    financings = indexed(services, schema.financings, receivable)
    assert sorted(f.tx_hash for f in financings) == sorted(hashes)
    assert sum(f.amount for f in financings) == state.outstanding
