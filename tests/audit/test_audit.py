"""The auditor's tools, driven through the CLI (Typer's CliRunner) against a real anvil chain.

- replay: a fresh database rebuilt from the chain equals the live index (same digest); a database
  that holds rows is refused;
- verify: passes on a clean index, every projection compared with the contracts' views, the logs
  and a replay; fails, naming the record and the field, when a projection row of the live
  database is tampered with or deleted;
- report: lists the refused attempts and role changes of a range, and nothing outside it;
- digest: equal for live and replay, different after tampering.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from creditreg.cli import app
from registry.chain.client import Signer
from registry.contracts.ledger import DeclarationTerm
from registry.contracts.roles import LENDER_ROLE
from registry.db import create_schema, make_engine, opened_engine
from registry.db.schema import declarations, events, receivables
from registry.indexer import Indexer
from registry.settings import get_settings
from tests.conftest import Stack, fp, hx
from tests.helpers import terms
from tests.indexer.test_access import everything

EXPORTER = b"\xee" * 32
CHAIN_CHECKS = {
    "receivables",
    "declarations",
    "declaration_attestations",
    "advance_rates",
    "properties",
    "pledges",
    "seizures",
    "enterprise_bindings",
    "consents",
    "read_log_anchors",
    "role_grants",
    "institution_assignments",
    "contract_code",
}
LOG_CHECKS = {"events", "financings", "refused_attempts"}


def ledger_history(stack: Stack) -> None:
    """Registrations, an attestation, a drawdown and a repayment, two recorded refusals (a
    declaration presented again, another bank's drawdown), a cancellation, a policy change."""
    a, b, ledger = stack.bank_a.signer, stack.bank_b.signer, stack.ledger
    ledger.register(
        a, terms("R1"), [DeclarationTerm(fp("D1"), 60_000), DeclarationTerm(fp("D2"), 50_000)]
    )
    now = int(stack.chain.w3.eth.get_block("latest")["timestamp"])
    ledger.attest_declaration(stack.verifier.signer, fp("D1"), EXPORTER, 55_000, now - 86_400)
    ledger.finance(a, fp("R1"), 30_000)
    ledger.repay(a, fp("R1"), 10_000)
    assert not ledger.try_register(b, terms("R2"), [DeclarationTerm(fp("D1"), 60_000)]).accepted
    assert not ledger.try_finance(b, fp("R1"), 1_000).accepted
    ledger.register(a, terms("R3"), [DeclarationTerm(fp("D3"), 40_000)])
    ledger.cancel(a, fp("R3"))
    ledger.set_advance_rates(stack.secrets.deployer, 9_000, 5_000)


@dataclass
class Audited:
    stack: Stack
    engine: sa.Engine
    env: dict[str, str]
    tmp_path: Path

    def index(self) -> None:
        # Small chunks: the live index is built in other steps than a replay's.
        Indexer(
            self.engine, self.stack.chain, self.stack.deployment, chunk_size=5
        ).run_until_caught_up()

    def cli(self, *args: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), env=self.env)
        finally:
            get_settings.cache_clear()

    def json_of(self, name: str, *args: str, exit_code: int = 0) -> Any:
        path = self.tmp_path / f"{name}.json"
        result = self.cli(*args, "--json", str(path))
        assert result.exit_code == exit_code, result.output
        return json.loads(path.read_text())


@pytest.fixture
def audited(stack: Stack, database_url: str, tmp_path: Path) -> Iterator[Audited]:
    engine = make_engine(database_url)
    create_schema(engine)
    manifest = tmp_path / "deployment.json"
    stack.deployment.save(manifest)
    env = {
        "CREDITREG_RPC_URL": stack.node.url,
        "CREDITREG_MANIFEST_PATH": str(manifest),
        "CREDITREG_DATABASE_URL": database_url,
        "CREDITREG_STATE_DIR": str(tmp_path / "state"),
    }
    yield Audited(stack, engine, env, tmp_path)
    engine.dispose()


def test_replay_equals_live_and_verify_passes_on_a_clean_index(audited: Audited) -> None:
    stack = audited.stack
    ledger_history(stack)
    everything(stack)
    audited.index()
    block = stack.chain.block_number()
    # The chain moves on after indexing: the verification is taken at the index's block.
    stack.ledger.register(
        stack.bank_a.signer, terms("LATE"), [DeclarationTerm(fp("D-LATE"), 1_000)]
    )

    live = audited.json_of("digest", "audit", "digest")
    assert live["block"] == block
    replay_url = f"sqlite:///{audited.tmp_path / 'replay.db'}"
    replayed = audited.json_of("replay", "audit", "replay", "--database-url", replay_url)
    # Replayed up to the head, the replay is a block (the late registration) ahead of the live
    # index; as of the live index's block they agree. The node's own logs are the witness of
    # what each holds.
    assert replayed["last_block"] == block + 1
    assert replayed["events"] == len(node_logs(stack, block + 1))
    assert live["tables"]["events"]["rows"] == len(node_logs(stack, block)) > 0
    assert replayed["first_block"] == stack.deployment.deployment_block
    as_of = audited.json_of(
        "replay-digest", "audit", "digest", "--database-url", replay_url, "--block", str(block)
    )
    assert as_of["digest"] == live["digest"]
    # Equal digests must mean equal rows: read both databases directly, beside the node's logs.
    with opened_engine(replay_url) as replay_engine:
        assert event_rows(audited.engine, block) == event_rows(replay_engine, block)
    assert [row[:3] for row in event_rows(audited.engine, block)] == node_logs(stack, block)

    again = audited.cli("audit", "replay", "--database-url", replay_url)
    assert again.exit_code == 1
    assert "not empty" in again.output

    report = audited.json_of("verify", "audit", "verify")
    assert report["ok"] is True, report["differences"][:10]
    assert report["differences"] == []
    assert report["block"] == block
    assert report["block_hash"] == stack.chain.w3.eth.get_block(block)["hash"].to_0x_hex()
    assert report["live_digest"]["block"] == report["replay_digest"]["block"] == block
    assert report["live_digest"]["digest"] == report["replay_digest"]["digest"]
    assert report["live_digest"]["tables"]["events"]["rows"] == len(node_logs(stack, block))
    checks = {c["check"]: c for c in report["checks"] if c["source"] != "replay"}
    assert set(checks) == CHAIN_CHECKS | LOG_CHECKS
    for name, result in checks.items():
        assert result["skipped"] is None, name
        assert result["compared"] > 0, name
    replay_tables = {c["check"] for c in report["checks"] if c["source"] == "replay"}
    assert {"events", "receivables", "pledges", "consents", "role_grants"} <= replay_tables

    # An existing replay (filled by `audit replay`, a block ahead) serves as well.
    existing = audited.json_of("verify-existing", "audit", "verify", "--replay-url", replay_url)
    assert existing["ok"] is True
    assert existing["replay"] is None


def node_logs(stack: Stack, to_block: int) -> list[tuple[int, int, str]]:
    """(block, log index, transaction) of every log of the deployment up to ``to_block``, as the
    node answers eth_getLogs: a witness the index's code has no part in."""
    logs = stack.chain.w3.eth.get_logs(
        {
            "address": [c.address for c in stack.deployment.contracts.values()],
            "fromBlock": stack.deployment.deployment_block,
            "toBlock": to_block,
        }
    )
    return sorted(
        (log["blockNumber"], log["logIndex"], log["transactionHash"].to_0x_hex()) for log in logs
    )


def event_rows(engine: sa.Engine, to_block: int) -> list[tuple[Any, ...]]:
    """The events table up to ``to_block``, read with plain SQL."""
    e = events.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(e.block_number, e.log_index, e.tx_hash, e.contract, e.event, e.args)
            .where(e.block_number <= to_block)
            .order_by(e.block_number, e.log_index)
        )
        return [tuple(row) for row in rows]


def tamper(engine: sa.Engine, how: str) -> tuple[str, str, str]:
    """Changes the live index behind the indexer's back; returns the projection, the record's key
    and the field a verification must name."""
    with engine.begin() as connection:
        if how == "update":
            c = receivables.c
            current = (c.id == hx(fp("R1"))) & c.valid_to_block.is_(None)
            outstanding = connection.execute(sa.select(c.outstanding).where(current)).scalar_one()
            connection.execute(
                sa.update(receivables).where(current).values(outstanding=outstanding + 1)
            )
            return "receivables", hx(fp("R1")), "outstanding"
        d = declarations.c
        deleted = connection.execute(
            sa.delete(declarations).where(d.fingerprint == hx(fp("D2")), d.valid_to_block.is_(None))
        )
        assert deleted.rowcount == 1
        return "declarations", hx(fp("D2")), "(record)"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("how", ["update", "delete"])
def test_verify_fails_naming_a_tampered_or_deleted_record(audited: Audited, how: str) -> None:
    ledger_history(audited.stack)
    audited.index()
    clean = audited.json_of("clean", "audit", "digest")["digest"]

    projection, key, field = tamper(audited.engine, how)

    result = audited.cli("audit", "verify", "--json", str(audited.tmp_path / "verify.json"))
    assert result.exit_code == 1, result.output
    assert "NOT verified" in result.output
    report = json.loads((audited.tmp_path / "verify.json").read_text())
    assert report["ok"] is False
    named = {(d["check"], d["source"], d["record"], d["field"]) for d in report["differences"]}
    # The contract's view says otherwise...
    assert (projection, "chain", key, field) in named
    # ... and so does the replay, which names the version (entity and first block).
    assert any(
        check == projection and source == "replay" and key in record
        for check, source, record, _ in named
    )
    # Nothing else is blamed, but for the cap of the receivable a deleted declaration backed: a
    # read of the index computes it from its declarations, so it reads wrong too.
    if how == "delete":
        assert ("receivables", "chain", hx(fp("R1")), "cap") in named
        assert {check for check, *_ in named} == {projection, "receivables"}
    else:
        assert {check for check, *_ in named} == {projection}
    assert report["live_digest"]["digest"] != report["replay_digest"]["digest"]
    assert report["replay_digest"]["digest"] == clean
    assert audited.json_of("tampered", "audit", "digest")["digest"] != clean


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_report_lists_the_range_and_nothing_outside_it(audited: Audited) -> None:
    stack, admin = audited.stack, audited.stack.secrets.deployer
    a, b = stack.bank_a.signer, stack.bank_b.signer
    stack.ledger.register(a, terms("R1"), [DeclarationTerm(fp("D1"), 60_000)])
    stack.ledger.finance(a, fp("R1"), 10_000)
    newcomer = Signer.generate()
    granted = stack.ledger.grant_role(admin, LENDER_ROLE, newcomer.address).block_number
    refused = stack.ledger.try_finance(b, fp("R1"), 1_000)
    assert not refused.accepted
    later = stack.ledger.try_finance(b, fp("R1"), 2_000)  # outside the range
    audited.index()

    report = audited.json_of(
        "report",
        "audit",
        "report",
        "--from-block",
        str(granted),
        "--to-block",
        str(refused.tx.block_number),
    )
    sections = report["sections"]
    assert [(e["event"], e["block_number"], e["note"]) for e in sections["role changes"]] == [
        ("RoleGranted", granted, "LENDER_ROLE")
    ]
    assert sections["role changes"][0]["args"]["account"] == newcomer.address
    assert sections["role changes"][0]["contract"] == "ReceivableLedger"
    refusals = sections["refused attempts"]
    assert [(e["event"], e["block_number"], e["note"]) for e in refusals] == [
        ("FinancingRefused", refused.tx.block_number, "receivable-held-by-other-bank")
    ]
    assert refusals[0]["tx_hash"] == refused.tx.tx_hash
    assert refusals[0]["args"]["amount"] == "1000"
    assert sections["seizures"] == sections["consents"] == sections["read-log anchors"] == []

    head = stack.chain.block_number()
    beyond = audited.cli("audit", "report", "--from-block", "0", "--to-block", str(head + 5))
    assert beyond.exit_code == 1
    assert f"has reached block {head}" in beyond.output
    assert later.tx.block_number == head
    last = audited.json_of(
        "last", "audit", "report", "--from-block", str(head), "--to-block", str(head)
    )
    assert [e["args"]["amount"] for e in last["sections"]["refused attempts"]] == ["2000"]
    assert all(
        entries == [] for name, entries in last["sections"].items() if name != "refused attempts"
    )
