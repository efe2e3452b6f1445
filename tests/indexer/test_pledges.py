"""The PledgeRegistry's events indexed into ``properties``, ``pledges`` and ``seizures``, on
SQLite and PostgreSQL.

The registry deployed with the system is driven through its binding by the dev institutions (the
registry center's clerk and its automated account, the court, the banks); the projections are then
compared with the contract's own views (``getProperty``, ``headroom``, ``getPledge``, ``rankOf``,
``titleOf``, ``seizureOf``) as of every block since the deployment, and checked for the cases that
matter: juniors moving up when a senior is released, concurrent seizures, a lowered appraisal,
recorded rejections.

The helpers serve ``test_reorg.py`` and ``test_point_in_time.py`` too.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak

from registry import errors
from registry.chain.client import Signer
from registry.chain.views import ContractViews
from registry.contracts.pledges import PledgeStatus, PropertyStatus, RuleReason
from registry.contracts.roles import ENFORCER_ROLE
from registry.db import schema
from registry.db.read import (
    pledge_rejections_as_of,
    pledges_as_of,
    properties_as_of,
    property_as_of,
    seizures_as_of,
    title_as_of,
)
from registry.indexer import IndexConflict, Indexer
from tests.conftest import Stack, fp, hx
from tests.index_dump import dump_database

MATURITY = 2_000_000_000
VALUE = 1_000_000  # at the default 70% LTV, a cap of 700,000
CASE = keccak(text="court case 2026-17")
CASE_2 = keccak(text="court case 2026-18")
CLERK_REASON = 101


@dataclass
class Pledging:
    """What a scenario did: the properties and pledges it touched, by label."""

    properties: dict[str, bytes] = field(default_factory=dict)
    pledges: dict[str, bytes] = field(default_factory=dict)


def register(stack: Stack, pledging: Pledging, label: str, value: int, ltv_bps: int = 0) -> bytes:
    registrar = stack.registrar.signer
    stack.pledges.register_property(registrar, fp(label), 1, value, "CNY", ltv_bps)
    pledging.properties[label] = fp(label)
    return fp(label)


def apply(
    stack: Stack, pledging: Pledging, label: str, bank: Signer, prop: str, amount: int
) -> bytes:
    pid = stack.pledges.apply(bank, pledging.properties[prop], amount, "CNY", MATURITY).pledge_id
    pledging.pledges[label] = pid
    return pid


def history(stack: Stack) -> Pledging:
    """Approvals by the automated registrar and by a clerk, rejections by the rules (headroom,
    seizure) and by a clerk, a senior released (the juniors move up), a lowered appraisal, two
    seizures at once, lifted by the court and by the admin, and a release and an approval in one
    block (one multicall)."""
    a, b = stack.bank_a.signer, stack.bank_b.signer
    clerk, auto = stack.registrar.signer, stack.auto_registrar.signer
    court, reg = stack.enforcer.signer, stack.pledges
    done = Pledging()
    register(stack, done, "P1", VALUE)
    register(stack, done, "P2", 500_000, ltv_bps=5_000)

    assert reg.decide(auto, apply(stack, done, "a1", a, "P1", 300_000)).approved  # rank 1
    reg.approve(clerk, apply(stack, done, "b1", b, "P1", 200_000))  # rank 2
    assert reg.decide(auto, apply(stack, done, "a2", a, "P1", 150_000)).approved  # rank 3
    # 650,000 secured of 700,000: 100,000 does not fit, and the rules record why.
    assert reg.decide(auto, apply(stack, done, "b2", b, "P1", 100_000)).reason_code == (
        RuleReason.EXCEEDS_HEADROOM
    )
    reg.reject(clerk, apply(stack, done, "a3", a, "P2", 10_000), CLERK_REASON)
    reg.approve(clerk, apply(stack, done, "b3", b, "P2", 250_000))

    reg.release(a, done.pledges["a1"])  # b1 moves up to rank 1, a2 to rank 2
    reg.update_appraisal(clerk, done.properties["P1"], 600_000)  # cap 420,000, secured 350,000
    reg.seize(court, done.properties["P1"], CASE)
    reg.seize(court, done.properties["P1"], CASE_2)
    assert reg.decide(auto, apply(stack, done, "b4", b, "P1", 1_000)).reason_code == (
        RuleReason.PROPERTY_SEIZED
    )
    reg.unseize(court, done.properties["P1"], CASE)  # still seized under CASE_2
    reg.unseize(stack.admin.signer, done.properties["P1"], CASE_2)

    # One block: b1 (rank 1) released, a new pledge approved behind a2, which becomes rank 1.
    pid = apply(stack, done, "a5", a, "P1", 60_000)
    reg.multicall(
        clerk,
        [
            reg.call_data("releasePledge", done.pledges["b1"]),
            reg.call_data("approvePledge", pid),
        ],
    )
    apply(stack, done, "a6", a, "P2", 5_000)  # left pending
    return done


def assert_pledges_match_chain(
    stack: Stack, engine: sa.Engine, pledging: Pledging, block: int | None = None
) -> None:
    """The index agrees with the PledgeRegistry's views (as of ``block``, None: now) on the
    scenario's properties (title and headroom included) and pledges."""
    at: int | str = "latest" if block is None else block
    props, pids = list(pledging.properties.values()), list(pledging.pledges.values())
    cases = [(prop, case) for prop in props for case in (CASE, CASE_2)]
    answers = ContractViews(stack.chain, stack.pledges.contract, at).call(
        [("titleOf", [fingerprint]) for fingerprint in props]
        + [("seizureOf", [prop, case]) for prop, case in cases]
        + [(view, [pid]) for pid in pids for view in ("getPledge", "rankOf")]
    )
    titles = answers[: len(props)]
    courts = answers[len(props) : len(props) + len(cases)]
    pledge_views = answers[len(props) + len(cases) :]
    with engine.connect() as connection:
        for fingerprint, (prop, room, ranked) in zip(props, titles, strict=True):
            status, key_version, ltv, currency, applications, appraised, secured, seized = prop
            row = property_as_of(connection, hx(fingerprint), block)
            if status == PropertyStatus.NONE:
                assert row is None, (fingerprint, block)
                continue
            assert row is not None, (fingerprint, block)
            assert row["status"] == PropertyStatus(status).name.lower(), block
            assert (row["key_version"], row["max_ltv_bps"], row["currency"]) == (
                key_version,
                ltv,
                currency.rstrip(b"\0").decode(),
            )
            assert (row["appraised_value"], row["secured_amount"]) == (appraised, secured), block
            assert (row["headroom"], row["applications"]) == (room, applications), block
            assert row["seizures"] == seized, block
            indexed = [
                (r["id"], r["rank"]) for r in title_as_of(connection, hx(fingerprint), block)
            ]
            assert indexed == [(hx(pid), rank) for pid, rank, _ in ranked], block
        current = {r["id"]: r for r in pledges_as_of(connection, block)}
        in_force = {
            r["id"]: r["court"]
            for r in seizures_as_of(connection, block)
            if r["status"] == "in_force"
        }
    assert in_force == {
        f"{hx(prop)}/{hx(case)}": hx(court)
        for (prop, case), court in zip(cases, courts, strict=True)
        if bytes(court) != bytes(32)
    }, block
    for i, pid in enumerate(pids):
        (status, reason, maturity, lender, prop_fp, institution, amount), rank = (
            pledge_views[2 * i],
            pledge_views[2 * i + 1],
        )
        row = current.get(hx(pid))
        if status == PledgeStatus.NONE:
            assert row is None, (pid, block)
            continue
        assert row is not None, (pid, block)
        assert row["status"] == PledgeStatus(status).name.lower(), (pid, block)
        assert (row["reason_code"] or 0, row["rank"] or 0) == (reason, rank), (pid, block)
        assert (row["lender"], row["property"], row["institution"]) == (
            lender,
            hx(prop_fp),
            hx(institution),
        )
        assert (row["amount"], row["maturity"]) == (amount, maturity)


def test_pledge_projections_equal_the_contract_views_at_every_block(
    stack: Stack, engine: sa.Engine
) -> None:
    done = history(stack)
    Indexer(engine, stack.chain, stack.deployment, chunk_size=5).run_until_caught_up()

    # From the registry's deployment on (before it, the contract has no code to ask).
    deployed = stack.deployment.contracts["PledgeRegistry"].block_number
    for block in range(deployed, stack.chain.block_number() + 1):
        assert_pledges_match_chain(stack, engine, done, block)
    assert_pledges_match_chain(stack, engine, done)


def test_ranks_move_up_when_a_senior_is_released(stack: Stack, engine: sa.Engine) -> None:
    done = history(stack)
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    ids = {hx(pid): label for label, pid in done.pledges.items()}
    p = schema.pledges
    with engine.connect() as connection:
        versions = connection.execute(
            sa.select(p.c.id, p.c.valid_from_block, p.c.status, p.c.rank)
            .where(p.c.property == hx(fp("P1")))
            .order_by(p.c.valid_from_block, p.c.id)
        ).all()
        title = title_as_of(connection, hx(fp("P1")))
    history_of = {
        label: [(status, rank) for pid, _, status, rank in versions if ids[pid] == label]
        for label in ("a1", "b1", "a2", "a5")
    }
    assert history_of["a1"] == [("pending", None), ("active", 1), ("released", None)]
    assert history_of["b1"] == [("pending", None), ("active", 2), ("active", 1), ("released", None)]
    # a2 moved up twice: once per senior released.
    assert history_of["a2"] == [("pending", None), ("active", 3), ("active", 2), ("active", 1)]
    # Approved in the block that released b1: junior to a2, and no version at a rank it never held
    # at a block's end.
    assert history_of["a5"] == [("pending", None), ("active", 2)]
    assert [(ids[row["id"]], row["rank"]) for row in title] == [("a2", 1), ("a5", 2)]


def test_seizure_appraisal_and_rejections(stack: Stack, engine: sa.Engine) -> None:
    done = history(stack)
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    pr = schema.properties
    with engine.connect() as connection:
        p1 = connection.execute(
            sa.select(pr.c.status, pr.c.seizures, pr.c.appraised_value, pr.c.headroom)
            .where(pr.c.fingerprint == hx(fp("P1")))
            .order_by(pr.c.valid_from_block)
        ).all()
        rejections = pledge_rejections_as_of(connection)
        current = {row["fingerprint"]: row for row in properties_as_of(connection)}
        seizures = {row["id"]: row for row in seizures_as_of(connection)}
    statuses = [(status, seized) for status, seized, _, _ in p1]
    # Each seizure and lifting makes a version (an application in between makes another).
    changes = [state for state, _ in itertools.groupby(statuses)]
    assert changes[-4:] == [("seized", 1), ("seized", 2), ("seized", 1), ("normal", 0)]
    assert statuses[-1] == ("normal", 0)
    court, admin = stack.enforcer.signer.address, stack.admin.signer.address
    assert {
        key: (row["status"], row["imposed_by"], row["lifted_by"]) for key, row in seizures.items()
    } == {
        f"{hx(fp('P1'))}/{hx(CASE)}": ("lifted", court, court),
        f"{hx(fp('P1'))}/{hx(CASE_2)}": ("lifted", court, admin),
    }
    # While seized, no headroom; the lowered appraisal (600,000 x 70% = 420,000) under 350,000
    # secured left 70,000, and then a5 took 60,000 after b1's 200,000 were released.
    assert all(room == 0 for status, _, _, room in p1 if status == "seized")
    assert current[hx(fp("P1"))]["appraised_value"] == 600_000
    assert current[hx(fp("P1"))]["secured_amount"] == 210_000
    assert current[hx(fp("P1"))]["headroom"] == 420_000 - 210_000

    labels = {hx(pid): label for label, pid in done.pledges.items()}
    a, b = stack.bank_a.signer.address, stack.bank_b.signer.address
    clerk, auto = stack.registrar.signer.address, stack.auto_registrar.signer.address
    assert [
        (labels[r["id"]], r["lender"], r["reason_code"], r["decided_by"], r["amount"])
        for r in rejections
    ] == [
        ("b2", b, RuleReason.EXCEEDS_HEADROOM, auto, 100_000),
        ("a3", a, CLERK_REASON, clerk, 10_000),
        ("b4", b, RuleReason.PROPERTY_SEIZED, auto, 1_000),
    ]
    assert all(r["institution"] == "0x" + "00" * 12 + r["lender"][2:].lower() for r in rejections)
    # The rejection is in the index as of its block, not before.
    first = rejections[0]["valid_from_block"]
    with engine.connect() as connection:
        assert [r["id"] for r in pledge_rejections_as_of(connection, first - 1)] == []
        assert len(pledge_rejections_as_of(connection, first)) == 1


def test_a_refused_pledge_operation_changes_neither_chain_nor_index(
    stack: Stack, engine: sa.Engine
) -> None:
    done = Pledging()
    prop = register(stack, done, "P1", VALUE)
    pid = apply(stack, done, "big", stack.bank_a.signer, "P1", 800_000)
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    before = dump_database(engine)
    tip = stack.tip()
    with pytest.raises(errors.RuleViolation) as raised:
        stack.pledges.approve(stack.registrar.signer, pid)
    assert raised.value.rule == "pledge-exceeds-headroom"
    assert raised.value.details == {"property": hx(prop), "amount": 800_000, "headroom": 700_000}
    with pytest.raises(errors.MissingRole) as denied:
        stack.pledges.seize(stack.bank_a.signer, prop, CASE)
    assert denied.value.rule == "missing-role"
    assert denied.value.details == {
        "account": stack.bank_a.signer.address,
        "neededRole": hx(ENFORCER_ROLE),
    }
    # No block, and the head's hash (which commits to the state) as before.
    assert stack.tip() == tip
    assert index.run_until_caught_up() == 0
    assert dump_database(engine) == before
    with engine.connect() as connection:
        assert [r["status"] for r in pledges_as_of(connection)] == ["pending"]


def test_an_index_that_contradicts_an_event_is_a_conflict_and_writes_nothing(
    stack: Stack, engine: sa.Engine
) -> None:
    """The events state the rank and headroom; an index whose state disagrees stops, loudly."""
    done = Pledging()
    register(stack, done, "P1", VALUE)
    senior = apply(stack, done, "a1", stack.bank_a.signer, "P1", 100_000)
    stack.pledges.approve(stack.registrar.signer, senior)
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    p = schema.pledges
    with engine.begin() as connection:
        connection.execute(
            sa.update(p).where(p.c.id == hx(senior), p.c.valid_to_block.is_(None)).values(rank=2)
        )
    before = dump_database(engine)
    stack.pledges.release(stack.bank_a.signer, senior)

    with pytest.raises(IndexConflict, match="states rank 1; the index makes it 2") as raised:
        index.step()
    assert raised.value.rule == "index-conflict"
    assert dump_database(engine) == before
