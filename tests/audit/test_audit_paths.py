"""The audit's refusals and its tamper detection beyond the receivables, on SQLite and PostgreSQL.

- refusals: an empty live index, a cursor the chain no longer has, a replay database neither
  empty nor caught up, a replay into a database that holds rows or beyond the head, a report's
  block range (negative, reversed, beyond the index, on an empty index);
- tampering, each with the one record and field the verification must name: pledges, consents,
  role grants, institution assignments and events changed or deleted; rows forged into
  receivables, role grants and events; a refused attempt stored twice (its table's unique
  constraint dropped first, as whoever stores it twice must).

Verification is driven through :func:`registry.audit.verify.verify` (the CLI is in
``test_audit.py``), so that a refusal is checked as the exception it is: its rule and details.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak

from registry.audit.digest import digest_index
from registry.audit.replay import replay
from registry.audit.report import build_report
from registry.audit.verify import verify
from registry.contracts.ledger import DeclarationTerm
from registry.contracts.roles import REGISTRAR_ROLE
from registry.db import create_schema, opened_engine, schema
from registry.errors import ConfigurationError, InvalidInput
from registry.indexer import Indexer
from tests.audit.test_audit import ledger_history, terms
from tests.conftest import Stack, fp, hx
from tests.indexer.test_access import everything


@dataclass
class Audit:
    stack: Stack
    engine: sa.Engine
    tmp_path: Path

    def index(self) -> int:
        """Indexes up to the head; returns the index's block."""
        Indexer(self.engine, self.stack.chain, self.stack.deployment).run_until_caught_up()
        return self.stack.chain.block_number()

    def replay_url(self, name: str = "replay") -> str:
        return f"sqlite:///{self.tmp_path / f'{name}.db'}"


@pytest.fixture
def audit(stack: Stack, engine: sa.Engine, tmp_path: Path) -> Audit:
    return Audit(stack, engine, tmp_path)


# --- refusals ----------------------------------------------------------------------------------


def test_verify_refuses_an_empty_live_index(audit: Audit) -> None:
    ledger_history(audit.stack)
    with pytest.raises(ConfigurationError) as raised:
        verify(audit.engine, audit.stack.chain, audit.stack.deployment)
    assert raised.value.rule == "configuration-error"
    assert raised.value.message == "the live index is empty: run the indexer before verifying it"


@pytest.mark.parametrize("chain", ["rewound", "replaced"])
def test_verify_refuses_a_cursor_the_chain_no_longer_has(audit: Audit, chain: str) -> None:
    stack = audit.stack
    fork = stack.snapshot()
    ledger_history(stack)
    block = audit.index()
    indexed_hash = stack.chain.w3.eth.get_block(block)["hash"].to_0x_hex()
    stack.revert(fork)
    if chain == "replaced":
        # Another branch as high, of other transactions (the same ones, signed again within the
        # same second, could mine the very same blocks).
        n = 0
        while stack.chain.block_number() < block:
            n += 1
            other = [DeclarationTerm(fp(f"D-OTHER-{n}"), 10)]
            stack.ledger.register(stack.bank_b.signer, terms(f"OTHER-{n}"), other)
        now = stack.chain.w3.eth.get_block(block)["hash"].to_0x_hex()
        assert now != indexed_hash
    else:
        now = "no such block"
    with pytest.raises(ConfigurationError) as raised:
        verify(audit.engine, stack.chain, stack.deployment)
    assert raised.value.rule == "configuration-error"
    assert raised.value.message == (
        f"the live index stops at block {block} with hash {indexed_hash}, the chain now has {now} "
        "there (a reorganization): run the indexer, then verify"
    )
    assert raised.value.details == {"block_number": block}


def test_verify_refuses_a_replay_database_neither_empty_nor_caught_up(audit: Audit) -> None:
    stack = audit.stack
    ledger_history(stack)
    url = audit.replay_url()
    with opened_engine(url) as early:
        replayed = replay(early, stack.chain, stack.deployment)
    stack.ledger.register(stack.bank_a.signer, terms("LATER"), [DeclarationTerm(fp("DL"), 10)])
    block = audit.index()
    assert replayed.last_block < block
    with pytest.raises(ConfigurationError) as raised:
        verify(audit.engine, stack.chain, stack.deployment, replay_url=url)
    assert raised.value.rule == "configuration-error"
    assert raised.value.message == (
        f"the replay database {url} is neither empty nor a replay up to block {block}: give an "
        "empty database, or none for a temporary one"
    )

    # Rows without a cursor are no replay either.
    other = audit.replay_url("other")
    with opened_engine(other) as stray:
        create_schema(stray)
        with stray.begin() as connection:
            connection.execute(
                sa.insert(schema.indexed_blocks).values(number=1, hash="0x" + "00" * 32, events=0)
            )
    with pytest.raises(ConfigurationError, match="is neither empty nor a replay up to block"):
        verify(audit.engine, stack.chain, stack.deployment, replay_url=other)


def test_a_replay_refuses_a_database_with_rows_and_a_block_beyond_the_head(audit: Audit) -> None:
    stack = audit.stack
    ledger_history(stack)
    audit.index()
    with pytest.raises(ConfigurationError) as raised:
        replay(audit.engine, stack.chain, stack.deployment)
    assert raised.value.rule == "configuration-error"
    assert "is not empty (table" in raised.value.message
    assert raised.value.details["table"] in schema.metadata.tables
    head = stack.chain.block_number()
    with opened_engine(audit.replay_url()) as empty:
        with pytest.raises(ConfigurationError) as beyond:
            replay(empty, stack.chain, stack.deployment, to_block=head + 1)
        assert (beyond.value.rule, beyond.value.message) == (
            "configuration-error",
            f"cannot replay to block {head + 1}: the chain's head is {head}",
        )


@pytest.mark.parametrize(
    ("from_block", "to_block", "field", "rule"),
    [
        (-1, 0, "from_block", "block-range"),
        (5, 4, "to_block", "block-range"),
        (0, None, "to_block", "block-not-indexed"),
    ],
    ids=["negative", "reversed", "beyond the index"],
)
def test_report_refuses_a_block_range_it_cannot_answer(
    audit: Audit, from_block: int, to_block: int | None, field: str, rule: str
) -> None:
    ledger_history(audit.stack)
    block = audit.index()
    audit.stack.ledger.register(
        audit.stack.bank_a.signer, terms("UNINDEXED"), [DeclarationTerm(fp("DU"), 10)]
    )
    last = block + 1 if to_block is None else to_block
    with pytest.raises(InvalidInput) as raised:
        build_report(audit.engine, audit.stack.deployment, from_block, last)
    assert (raised.value.field, raised.value.rule) == (field, rule)
    if rule == "block-not-indexed":
        assert raised.value.message.startswith(f"the index has reached block {block}; ")
    # The edges themselves are answered: one block, and the index's last.
    assert build_report(audit.engine, audit.stack.deployment, block, block).to_block == block


def test_report_on_an_empty_index_has_reached_no_block(audit: Audit) -> None:
    first = audit.stack.deployment.deployment_block
    with pytest.raises(InvalidInput) as raised:
        build_report(audit.engine, audit.stack.deployment, first, first)
    assert (raised.value.field, raised.value.rule) == ("to_block", "block-not-indexed")
    assert raised.value.message.startswith(f"the index has reached block {first - 1}; ")


# --- tampering ---------------------------------------------------------------------------------

Named = tuple[str, str, str, str]
"""(check, witness, record, field) of a difference the verification must report."""


def _first_current(connection: sa.Connection, table: sa.Table, *where: Any) -> dict[str, Any]:
    row = (
        connection.execute(
            sa.select(table)
            .where(table.c.valid_to_block.is_(None), *where)
            .order_by(table.c.id)
            .limit(1)
        )
        .mappings()
        .one()
    )
    return dict(row)


def _changed(
    connection: sa.Connection, table: sa.Table, key: str, column: str, value: Any, *where: Any
) -> Named:
    row = _first_current(connection, table, *where)
    current = (table.c[key] == row[key]) & table.c.valid_to_block.is_(None)
    connection.execute(sa.update(table).where(current).values({column: value(row[column])}))
    return table.name, "chain", str(row[key]), column


def _pledge_amount(connection: sa.Connection, stack: Stack) -> Named:
    return _changed(connection, schema.pledges, "id", "amount", lambda amount: amount + 1)


def _pledge_deleted(connection: sa.Connection, stack: Stack) -> Named:
    row = _first_current(connection, schema.pledges)
    p = schema.pledges.c
    connection.execute(
        sa.delete(schema.pledges).where(p.id == row["id"], p.valid_to_block.is_(None))
    )
    return "pledges", "chain", row["id"], "(record)"


def _consent_expiry(connection: sa.Connection, stack: Stack) -> Named:
    return _changed(connection, schema.consents, "id", "expiry", lambda expiry: expiry - 1)


def _role_revoked(connection: sa.Connection, stack: Stack) -> Named:
    granted = schema.role_grants.c.status == "granted"
    return _changed(connection, schema.role_grants, "id", "status", lambda _: "revoked", granted)


def _institution_moved(connection: sa.Connection, stack: Stack) -> Named:
    forged = hx(keccak(text="an institution that never was"))
    return _changed(
        connection, schema.institution_assignments, "id", "institution", lambda _: forged
    )


def _event_args(connection: sa.Connection, stack: Stack) -> Named:
    e = schema.events.c
    row = connection.execute(
        sa.select(e.id, e.block_number, e.log_index, e.args)
        .where(e.event == "ReceivableFinanced")
        .limit(1)
    ).one()
    args = {**row.args, "amount": str(int(row.args["amount"]) * 10)}
    connection.execute(sa.update(schema.events).where(e.id == row.id).values(args=args))
    return "events", "logs", f"{row.block_number}:{row.log_index}", "args"


def _forged_receivable(connection: sa.Connection, stack: Stack) -> Named:
    row = _first_current(connection, schema.receivables)
    forged = hx(fp("FORGED"))
    connection.execute(sa.insert(schema.receivables).values({**row, "id": forged}))
    return "receivables", "chain", forged, "(record)"


def _forged_grant(connection: sa.Connection, stack: Stack) -> Named:
    """Bank A made a registrar of the ledger, copied from a real grant's row."""
    row = _first_current(connection, schema.role_grants)
    contract, account = stack.ledger.address, stack.bank_a.signer.address
    key = f"{contract}/{hx(REGISTRAR_ROLE)}/{account}"
    connection.execute(
        sa.insert(schema.role_grants).values(
            {
                **row,
                "id": key,
                "contract": contract,
                "role": hx(REGISTRAR_ROLE),
                "role_name": "REGISTRAR_ROLE",
                "account": account,
                "status": "granted",
            }
        )
    )
    return "role_grants", "chain", key, "status"


def _forged_event(connection: sa.Connection, stack: Stack) -> Named:
    e = schema.events.c
    row = dict(
        connection.execute(sa.select(schema.events).order_by(e.block_number.desc()).limit(1))
        .mappings()
        .one()
    )
    del row["id"]
    connection.execute(sa.insert(schema.events).values({**row, "log_index": 999}))
    return "events", "logs", f"{row['block_number']}:999", "(record)"


def _refusal_twice(connection: sa.Connection, stack: Stack) -> Named:
    _drop_unique(connection, "refused_attempts", "uq_refused_attempts_block_log")
    r = schema.refused_attempts.c
    row = dict(
        connection.execute(sa.select(schema.refused_attempts).order_by(r.id).limit(1))
        .mappings()
        .one()
    )
    del row["id"]
    connection.execute(sa.insert(schema.refused_attempts).values(row))
    place = f"{row['block_number']}:{row['log_index']}"
    return "refused_attempts", "logs", f"{place} (again, in refused_attempts)", "(record)"


def _drop_unique(connection: sa.Connection, table: str, constraint: str) -> None:
    """What storing a row twice takes first: dropping the table's unique constraint."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}"))
        return
    # SQLite cannot drop a table's constraint: the table is rebuilt without it.
    ddl = connection.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": table},
    ).scalar_one()
    without = re.sub(rf",\s*CONSTRAINT {constraint} UNIQUE \([^)]*\)", "", ddl)
    assert without != ddl, ddl
    connection.execute(sa.text(f"ALTER TABLE {table} RENAME TO {table}_tampered"))
    connection.execute(sa.text(without))
    # The names are this module's constants, not input.
    copy = f"INSERT INTO {table} SELECT * FROM {table}_tampered"  # noqa: S608
    connection.execute(sa.text(copy))
    connection.execute(sa.text(f"DROP TABLE {table}_tampered"))


TAMPERING: dict[str, Callable[[sa.Connection, Stack], Named]] = {
    "pledge amount changed": _pledge_amount,
    "pledge deleted": _pledge_deleted,
    "consent expiry changed": _consent_expiry,
    "role grant revoked": _role_revoked,
    "institution assignment moved": _institution_moved,
    "event arguments changed": _event_args,
    "receivable forged": _forged_receivable,
    "role grant forged": _forged_grant,
    "event forged": _forged_event,
    "refused attempt stored twice": _refusal_twice,
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_verify_names_the_tampered_record_and_field(audit: Audit, how: str) -> None:
    stack = audit.stack
    ledger_history(stack)
    everything(stack)
    block = audit.index()
    # test_audit.py verifies this history's clean index; its digest stands for it here.
    clean = digest_index(audit.engine, block).digest

    with audit.engine.begin() as connection:
        check, source, record, field = TAMPERING[how](connection, stack)

    report = verify(audit.engine, stack.chain, stack.deployment)
    assert not report.ok
    assert report.block == block
    differences = report.to_json()["differences"]
    named = {(d["check"], d["source"], d["record"], d["field"]) for d in differences}
    # The chain (its views, or its logs) says otherwise...
    assert (check, source, record, field) in named, differences
    # ... and so does the replay, which names the row by its key.
    replayed = [d for d in differences if d["check"] == check and d["source"] == "replay"]
    assert replayed, differences
    # Nothing else is blamed.
    assert {d["check"] for d in differences} == {check}
    assert report.live_digest.tables[check] != report.replay_digest.tables[check]
    assert report.replay_digest.digest == clean != report.live_digest.digest
