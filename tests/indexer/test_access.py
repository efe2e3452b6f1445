"""Roles and institution assignments of every contract, indexed into ``role_grants`` and
``institution_assignments``, on SQLite and PostgreSQL, against the contracts' ``hasRole`` and
``institutionOf`` as of every block since the deployment; and the three contracts' events
together: the same index whatever the chunks, a rerun that adds nothing, anvil and ganache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak

from registry import errors
from registry.chain.client import Signer
from registry.contracts.consents import institution_id
from registry.contracts.roles import (
    CONTRACT_ROLES,
    DEFAULT_ADMIN_ROLE,
    ENFORCER_ROLE,
    LENDER_ROLE,
    OPERATOR_ROLE,
    REGISTRAR_ROLE,
    Role,
)
from registry.db import create_schema, make_engine, schema
from registry.db.read import institution_assignments_as_of, role_grants_as_of
from registry.indexer import Indexer
from tests.conftest import Stack, hx
from tests.index_dump import dump_database
from tests.indexer.test_consents import Consenting, assert_consents_match_chain
from tests.indexer.test_consents import history as consent_history
from tests.indexer.test_pledges import Pledging, assert_pledges_match_chain
from tests.indexer.test_pledges import history as pledge_history

INSTITUTION_A = keccak(text="institution: Bank A group")
INSTITUTION_B = keccak(text="institution: Bank B group")
ZERO = bytes(32)


def contracts(stack: Stack) -> dict[str, Any]:
    """The web3 contract objects of the deployment, by address."""
    return {
        binding.address: binding.contract
        for binding in (stack.ledger, stack.pledges, stack.consents)
    }


@dataclass
class History:
    newcomer: Signer
    """The account that was granted roles."""
    one_block: int
    """The block in which it was granted ENFORCER_ROLE and lost it again."""


def history(stack: Stack) -> History:
    """Grants, revocations, a re-grant, a renunciation, a grant and its revocation in one block,
    and institution assignments made, changed and cleared."""
    admin, newcomer = stack.secrets.deployer, Signer.generate()
    pledges, consents = stack.pledges, stack.consents
    pledges.grant_role(admin, REGISTRAR_ROLE, newcomer.address)
    revoke = pledges.contract.functions.revokeRole(REGISTRAR_ROLE, newcomer.address)
    stack.chain.transact(admin, revoke)
    pledges.grant_role(admin, REGISTRAR_ROLE, newcomer.address)
    consents.grant_role(admin, OPERATOR_ROLE, newcomer.address)
    stack.ledger.grant_role(admin, LENDER_ROLE, newcomer.address)
    stack.chain.transact(
        admin, stack.ledger.contract.functions.revokeRole(LENDER_ROLE, newcomer.address)
    )
    # Bank A gives up its LENDER_ROLE on the pledge registry itself.
    bank_a = stack.bank_a.signer
    stack.chain.transact(
        bank_a, pledges.contract.functions.renounceRole(LENDER_ROLE, bank_a.address)
    )
    one_block = pledges.multicall(
        admin,
        [
            pledges.call_data("grantRole", ENFORCER_ROLE, newcomer.address),
            pledges.call_data("revokeRole", ENFORCER_ROLE, newcomer.address),
        ],
    ).block_number

    bank_b = stack.bank_b.signer
    pledges.assign_institution(admin, bank_a.address, INSTITUTION_A)
    pledges.assign_institution(admin, bank_b.address, INSTITUTION_A)
    consents.assign_institution(admin, bank_a.address, INSTITUTION_A)
    pledges.assign_institution(admin, bank_a.address, ZERO)  # back to itself
    pledges.assign_institution(admin, bank_b.address, INSTITUTION_B)
    consents.assign_institution(admin, newcomer.address, ZERO)  # was itself already
    return History(newcomer, one_block)


def accounts(stack: Stack, newcomer: Signer) -> list[str]:
    return [
        stack.secrets.deployer.address,
        newcomer.address,
        *(i.signer.address for i in stack.secrets.institutions),
    ]


HAS_ROLE = keccak(text="hasRole(bytes32,address)")[:4]
INSTITUTION_OF = keccak(text="institutionOf(address)")[:4]


def views(stack: Stack, contract: Any, calls: list[bytes], block: int) -> list[bytes]:
    """The raw answers of several view calls (their calldata) at ``block``, in one ``eth_call``
    of the contract's own ``multicall``: a call per view would make checking every block slow."""
    return [
        bytes(answer) for answer in stack.chain.call(contract.functions.multicall(calls), block)
    ]


ROLES = [DEFAULT_ADMIN_ROLE, LENDER_ROLE, REGISTRAR_ROLE, ENFORCER_ROLE, OPERATOR_ROLE]


def assert_access_matches_chain(
    stack: Stack, engine: sa.Engine, newcomer: Signer, block: int
) -> None:
    with engine.connect() as connection:
        granted = {
            (r["contract"], r["role"], r["account"])
            for r in role_grants_as_of(connection, block)
            if r["status"] == "granted"
        }
        assigned = {
            (r["contract"], r["account"]): r["institution"]
            for r in institution_assignments_as_of(connection, block)
        }
    for address, contract in contracts(stack).items():
        if stack.chain.w3.eth.get_code(address, block) == b"":
            assert not any(c == address for c, _, _ in granted), block
            continue
        pairs = [(role, account) for account in accounts(stack, newcomer) for role in ROLES]
        calldata = [HAS_ROLE + encode(["bytes32", "address"], list(pair)) for pair in pairs]
        has_roles = views(stack, contract, calldata, block)
        for (role, account), answer in zip(pairs, has_roles, strict=True):
            on_chain = decode(["bool"], answer)[0]
            assert ((address, hx(role), account) in granted) == on_chain, (block, role, account)
        if any(f.get("name") == "institutionOf" for f in contract.abi):
            calls = [
                INSTITUTION_OF + encode(["address"], [account])
                for account in accounts(stack, newcomer)
            ]
            answers = views(stack, contract, calls, block)
            for account, answer in zip(accounts(stack, newcomer), answers, strict=True):
                expected = assigned.get((address, account), hx(institution_id(account)))
                assert expected == "0x" + answer.hex(), (block, account)


def test_access_projections_equal_the_contract_views_at_every_block(
    stack: Stack, engine: sa.Engine
) -> None:
    newcomer = history(stack).newcomer
    Indexer(engine, stack.chain, stack.deployment, chunk_size=3).run_until_caught_up()
    for block in range(stack.deployment.deployment_block, stack.chain.block_number() + 1):
        assert_access_matches_chain(stack, engine, newcomer, block)


def test_the_bootstrap_grants_and_the_history_of_a_grant(stack: Stack, engine: sa.Engine) -> None:
    # Indexed before the history: what bootstrap granted.
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    with engine.connect() as connection:
        bootstrapped = {
            (r["contract"], r["role_name"], r["account"], r["granted_by"])
            for r in role_grants_as_of(connection)
        }
    deployer = stack.secrets.deployer.address
    expected = {
        (c.address, "DEFAULT_ADMIN_ROLE", deployer, deployer)
        for c in stack.deployment.contracts.values()
    }
    for name, roles in CONTRACT_ROLES.items():
        abi_names = {f.get("name") for f in contracts(stack)[stack.deployment.address_of(name)].abi}
        for role in roles:
            constant = role.chain_role
            if constant in abi_names:
                expected |= {
                    (stack.deployment.address_of(name), constant, i.signer.address, deployer)
                    for i in stack.secrets.with_role(role)
                }
    assert bootstrapped == expected
    assert {i.name for i in stack.secrets.with_role(Role.REGISTRAR)} == {
        "Registry center",
        "Registry center (automated)",
    }

    done = history(stack)
    newcomer = done.newcomer
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    pledges, bank_a = stack.pledges.address, stack.bank_a.signer.address
    with engine.connect() as connection:
        rows = role_grants_as_of(connection, contract=pledges)
        assignments = institution_assignments_as_of(connection)
    by_account = {(r["role_name"], r["account"]): r for r in rows}
    registrar = by_account[("REGISTRAR_ROLE", newcomer.address)]
    assert (registrar["status"], registrar["revoked_by"]) == ("granted", None)
    renounced = by_account[("LENDER_ROLE", bank_a)]
    assert (renounced["status"], renounced["revoked_by"]) == ("revoked", bank_a)
    # Granted and revoked in one block: one version, revoked.
    enforcer = by_account[("ENFORCER_ROLE", newcomer.address)]
    assert (enforcer["status"], enforcer["valid_from_block"]) == ("revoked", done.one_block)
    assert {(r["contract"], r["account"], r["institution"]) for r in assignments} == {
        (pledges, stack.bank_b.signer.address, hx(INSTITUTION_B)),
        (stack.consents.address, bank_a, hx(INSTITUTION_A)),
    }


def test_a_refused_role_grant_changes_neither_chain_nor_index(
    stack: Stack, engine: sa.Engine
) -> None:
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    before = dump_database(engine)
    tip = stack.tip()
    with pytest.raises(errors.MissingRole) as raised:
        stack.pledges.grant_role(stack.bank_a.signer, REGISTRAR_ROLE, stack.bank_a.signer.address)
    # Granting takes the role's admin role: the zero (admin) role.
    assert raised.value.rule == "missing-role"
    assert raised.value.details == {
        "account": stack.bank_a.signer.address,
        "neededRole": hx(bytes(32)),
    }
    with pytest.raises(errors.MissingRole) as raised:
        stack.consents.assign_institution(
            stack.registrar.signer, stack.bank_a.signer.address, INSTITUTION_A
        )
    assert raised.value.rule == "missing-role"
    assert raised.value.details == {
        "account": stack.registrar.signer.address,
        "neededRole": hx(bytes(32)),
    }
    # No block, and the head's hash (which commits to the state) as before.
    assert stack.tip() == tip
    assert index.run_until_caught_up() == 0
    assert dump_database(engine) == before


# --- The three contracts together ----------------------------------------------------------------


def everything(stack: Stack) -> tuple[Pledging, Consenting]:
    """The pledge, consent and access scenarios, one after the other."""
    pledging = pledge_history(stack)
    consenting = consent_history(stack)
    history(stack)
    return pledging, consenting


def full_dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the kept block hashes and the cursor (they depend on the chunks read)."""
    return dump_database(engine, ignore={"alembic_version", "indexed_blocks", "indexer_cursor"})


def test_any_chunking_gives_the_same_index_and_a_rerun_adds_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    everything(stack)
    big, tiny = (make_engine(f"sqlite:///{tmp_path / name}.db") for name in ("big", "tiny"))
    try:
        for engine in (big, tiny):
            create_schema(engine)
        Indexer(big, stack.chain, stack.deployment, chunk_size=10_000).run_until_caught_up()
        Indexer(tiny, stack.chain, stack.deployment, chunk_size=1).run_until_caught_up()
        indexed = full_dump(big)
        assert full_dump(tiny) == indexed
        assert all(indexed[table] for table in ("pledges", "consents", "read_log_anchors"))

        # Forget the cursor: every chunk is applied a second time, and nothing changes.
        with big.begin() as connection:
            connection.execute(sa.delete(schema.indexer_cursor))
        assert Indexer(big, stack.chain, stack.deployment).run_until_caught_up() > 0
        assert full_dump(big) == indexed
    finally:
        big.dispose()
        tiny.dispose()


def test_every_contract_indexes_on_anvil_and_ganache(any_stack: Stack, tmp_path: Path) -> None:
    stack = any_stack
    pledging, consenting = everything(stack)
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    try:
        create_schema(engine)
        Indexer(engine, stack.chain, stack.deployment, chunk_size=3).run_until_caught_up()
        assert_pledges_match_chain(stack, engine, pledging)
        assert_consents_match_chain(stack, engine, consenting)
        head = stack.chain.block_number()
        assert_access_matches_chain(stack, engine, Signer.generate(), head)
    finally:
        engine.dispose()
