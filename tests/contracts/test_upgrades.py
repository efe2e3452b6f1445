"""Upgrading a live deployment in place: new code behind the same proxies, every record kept, the
index following without a replay from zero, and the upgrades that must not happen refused with
nothing sent.

The next versions are compiled here from ``tests/contracts/upgrades`` with the pinned compiler,
as a release would compile them: the same rules with a state variable appended and a ``version``
view, and one whose state would sit a slot off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from registry import errors
from registry.artifacts import Artifact
from registry.artifacts.compiler import PROJECT_ROOT, compile_contracts, find_solc
from registry.audit.verify import verify
from registry.contracts.deploy import Deployment
from registry.contracts.upgrade import implementation_of, upgrade_contract
from registry.db import create_schema, make_engine
from registry.db.schema import contract_code
from registry.errors import ConfigurationError
from registry.indexer import Indexer
from registry.settings import Settings
from tests.audit.test_audit import ledger_history
from tests.conftest import Stack, fp
from tests.helpers import refused, violated
from tests.indexer.test_access import everything, full_dump

NEXT_VERSIONS = PROJECT_ROOT / "tests" / "contracts" / "upgrades" / "NextVersions.sol"
NAMES = ("ReceivableLedger", "PledgeRegistry", "ConsentRegistry")


def compiled_next_versions() -> dict[str, Artifact]:
    """The contracts with their next versions, compiled."""
    settings = Settings()
    solc = find_solc(settings.solc_version, settings.solc_binary)
    return compile_contracts(solc, settings.solc_version, [NEXT_VERSIONS])


@pytest.fixture(scope="module")
def next_versions() -> dict[str, Artifact]:
    return compiled_next_versions()


@pytest.fixture
def index(stack: Stack, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


def _catch_up(stack: Stack, engine: sa.Engine, deployment: Deployment) -> None:
    Indexer(engine, stack.chain, deployment, chunk_size=7).run_until_caught_up()


def _records(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The index without what an upgrade adds to it (its events and the code it records)."""
    dump = full_dump(engine)
    return {table: rows for table, rows in dump.items() if table not in {"events", "contract_code"}}


def _version(stack: Stack, name: str, artifact: Artifact, deployment: Deployment) -> int:
    proxy = stack.chain.w3.eth.contract(address=deployment.address_of(name), abi=artifact.abi)
    version: int = proxy.functions.version().call()
    return version


def _upgrade_all(
    stack: Stack, deployment: Deployment, next_versions: dict[str, Artifact]
) -> Deployment:
    for name in NAMES:
        deployment, upgrade = upgrade_contract(
            stack.chain, stack.secrets.deployer, deployment, name, next_versions[f"{name}V2"]
        )
        assert upgrade is not None
        assert upgrade.previous != upgrade.implementation
    return deployment


def test_an_upgrade_keeps_every_record_and_the_index_follows_it(
    stack: Stack, index: sa.Engine, next_versions: dict[str, Artifact]
) -> None:
    ledger_history(stack)
    everything(stack)
    _catch_up(stack, index, stack.deployment)
    before = _records(index)
    assert all(before[table] for table in ("receivables", "pledges", "consents", "role_grants"))
    views_before = (
        stack.ledger.receivable(fp("R1")),
        stack.ledger.advance_rates(),
    )
    first_code = {row["contract"]: row for row in _current_code(index)}

    upgraded = _upgrade_all(stack, stack.deployment, next_versions)

    for name in NAMES:
        # The same address, the new code, and it says so.
        assert upgraded.address_of(name) == stack.deployment.address_of(name)
        running = implementation_of(stack.chain, upgraded.address_of(name))
        assert running == upgraded.contracts[name].implementation
        assert running != stack.deployment.contracts[name].implementation
        assert _version(stack, name, next_versions[f"{name}V2"], upgraded) == 2
    # Every record reads as before through the unchanged bindings.
    assert (stack.ledger.receivable(fp("R1")), stack.ledger.advance_rates()) == views_before

    # The index goes on from its cursor: the records are what they were, and it knows the code.
    _catch_up(stack, index, upgraded)
    assert _records(index) == before
    code = {row["contract"]: row for row in _current_code(index)}
    for name in NAMES:
        address = upgraded.address_of(name)
        assert code[address]["implementation"] == upgraded.contracts[name].implementation
        assert code[address]["valid_from_block"] > first_code[address]["valid_from_block"]

    # The rules go on under the new code: a drawdown on a receivable registered before.
    stack.ledger.finance(stack.bank_a.signer, fp("R1"), 5_000)
    _catch_up(stack, index, upgraded)
    assert stack.ledger.receivable(fp("R1")).outstanding == views_before[0].outstanding + 5_000

    # A replay from the deployment block through both versions equals the live index, and every
    # projection (the code each proxy runs included) agrees with the chain.
    report = verify(index, stack.chain, upgraded)
    assert report.ok, report.differences[:10]


def _current_code(engine: sa.Engine) -> list[sa.RowMapping]:
    with engine.connect() as connection:
        query = sa.select(contract_code).where(contract_code.c.valid_to_block.is_(None))
        return list(connection.execute(query).mappings())


def test_code_laid_out_otherwise_is_refused_before_anything_is_sent(
    stack: Stack, next_versions: dict[str, Artifact]
) -> None:
    before = stack.tip()
    with pytest.raises(ConfigurationError) as refusal:
        upgrade_contract(
            stack.chain,
            stack.secrets.deployer,
            stack.deployment,
            "ReceivableLedger",
            next_versions["ReceivableLedgerMisplaced"],
        )
    # upgrades-core's own account of the layout names the variable that moved things.
    assert "nothing was sent" in str(refusal.value)
    assert "_first" in str(refusal.value)
    assert stack.tip() == before


def test_only_the_admin_upgrades(stack: Stack, next_versions: dict[str, Artifact]) -> None:
    artifact = next_versions["ReceivableLedgerV2"]
    proxy = stack.chain.w3.eth.contract(address=stack.ledger.address, abi=artifact.abi)
    running = implementation_of(stack.chain, stack.ledger.address)
    # Any code address will do: the role check comes first.
    upgrade = proxy.functions.upgradeToAndCall(running, b"")
    refused(
        stack,
        errors.MissingRole,
        "missing-role",
        lambda: stack.chain.transact(stack.bank_a.signer, upgrade),
    )


def test_a_proxy_is_initialized_once_and_its_code_never(stack: Stack) -> None:
    admin = stack.secrets.deployer
    again = stack.ledger.contract.functions.initialize(stack.bank_a.signer.address, 10_000, 10_000)
    refused(
        stack,
        errors.RuleViolation,
        "invalid-initialization",
        lambda: stack.chain.transact(admin, again),
    )
    # Nor can anyone take over the implementation behind it by initializing it directly.
    code = stack.chain.w3.eth.contract(
        address=implementation_of(stack.chain, stack.ledger.address), abi=stack.ledger.contract.abi
    )
    direct = code.functions.initialize(stack.bank_a.signer.address, 10_000, 10_000)
    refused(
        stack,
        errors.RuleViolation,
        "invalid-initialization",
        lambda: stack.chain.transact(stack.bank_a.signer, direct),
    )


def test_a_manifest_that_missed_an_upgrade_is_refused(
    stack: Stack, next_versions: dict[str, Artifact]
) -> None:
    upgraded = _upgrade_all(stack, stack.deployment, next_versions)
    assert upgraded.contracts["ReceivableLedger"] != stack.deployment.contracts["ReceivableLedger"]
    before = stack.tip()
    with pytest.raises(ConfigurationError, match="the manifest says"):
        upgrade_contract(
            stack.chain,
            stack.secrets.deployer,
            stack.deployment,  # the manifest before the upgrade
            "ReceivableLedger",
            next_versions["ReceivableLedgerV2"],
        )
    assert stack.tip() == before


def test_the_code_a_proxy_runs_already_is_not_deployed_again(stack: Stack) -> None:
    before = stack.tip()
    for name in NAMES:
        deployment, upgrade = upgrade_contract(
            stack.chain, stack.secrets.deployer, stack.deployment, name
        )
        assert upgrade is None
        assert deployment == stack.deployment
    assert stack.tip() == before


def test_a_proxy_is_pointed_only_at_code_that_can_run_behind_it(stack: Stack) -> None:
    admin = stack.secrets.deployer
    upgrade = stack.ledger.contract.functions.upgradeToAndCall
    # A proxy: its code refuses to say where it keeps itself through a delegated call.
    target = stack.pledges.address
    details = violated(
        stack,
        "erc1967-invalid-implementation",
        lambda: stack.chain.transact(admin, upgrade(target, b"")),
    )
    assert details == {"implementation": target}
    # An account without code cannot even answer: the call reverts without a reason.
    refused(
        stack,
        errors.ChainError,
        "chain-unavailable",
        lambda: stack.chain.transact(admin, upgrade(stack.bank_a.signer.address, b"")),
    )


def test_the_code_behind_a_proxy_is_never_upgraded_itself(stack: Stack) -> None:
    code = stack.chain.w3.eth.contract(
        address=implementation_of(stack.chain, stack.ledger.address), abi=stack.ledger.contract.abi
    )
    upgrade = code.functions.upgradeToAndCall(stack.bank_a.signer.address, b"")
    violated(
        stack,
        "uups-unauthorized-call-context",
        lambda: stack.chain.transact(stack.secrets.deployer, upgrade),
    )


def test_a_manifest_of_contracts_without_proxies_says_to_start_afresh(
    stack: Stack, tmp_path: Path
) -> None:
    """An earlier release deployed the contracts themselves; its manifest names no
    implementations, and its registry cannot be upgraded in place."""
    older = stack.deployment.to_json()
    for contract in older["contracts"].values():
        for field in ("implementation", "storage_layout", "code_digest"):
            del contract[field]
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(older))
    with pytest.raises(ConfigurationError, match="before they ran behind proxies"):
        Deployment.load(path)
