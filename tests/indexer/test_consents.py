"""The ConsentRegistry's events indexed into ``enterprise_bindings``, ``consents`` and
``read_log_anchors``, on SQLite and PostgreSQL.

Enterprises sign with keys that hold no ether, and a bank relays their messages; the registry
center's clerk binds and unbinds them, the API operator anchors read-log roots. The projections are
compared with the contract's views (``bindingOf``, ``consentOf``, ``isConsentActive``,
``readLogBatch``) as of every block since the deployment.

The helpers serve ``test_reorg.py`` and ``test_point_in_time.py`` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from registry import errors
from registry.chain.views import ContractViews
from registry.contracts.consents import (
    SCOPE_CREDIT_REPORT,
    Consent,
    ConsentStatus,
    ReadLogEntry,
    Revocation,
    institution_id,
    sign_consent,
    sign_revocation,
)
from registry.contracts.roles import OPERATOR_ROLE
from registry.db import schema
from registry.db.read import (
    consent_active_as_of,
    consent_as_of,
    consents_as_of,
    enterprise_bindings_as_of,
    read_log_anchors_as_of,
)
from registry.fingerprint import Fingerprint
from registry.indexer import Indexer
from registry.merkle import MerkleTree
from tests.conftest import Stack, hx
from tests.index_dump import dump_database

DAY = 86_400
UINT64_MAX = 2**64 - 1
LARGEST_BATCH_END = 4 + 2**32  # entries 5 to here: ConsentRegistry.MAX_READ_LOG_BATCH of them
SCOPE_LOAN_REVIEW = keccak(text="LOAN_REVIEW")


@dataclass
class Consenting:
    """The enterprises, consent keys (enterprise, grantee, scope) and anchored batches a scenario
    touched."""

    enterprises: list[bytes] = field(default_factory=list)
    keys: set[tuple[bytes, bytes, bytes]] = field(default_factory=set)
    anchored: list[int] = field(default_factory=list)
    nonce: int = 0

    def next_nonce(self) -> int:
        self.nonce += 1
        return self.nonce


def enterprise(label: str) -> Fingerprint:
    return Fingerprint(1, keccak(text=f"enterprise {label}"))


def now(stack: Stack) -> int:
    return int(stack.chain.w3.eth.get_block("latest")["timestamp"])


def bind(stack: Stack, done: Consenting, label: str) -> tuple[bytes, LocalAccount]:
    key: LocalAccount = Account.create()
    fingerprint = enterprise(label)
    stack.consents.bind_enterprise(stack.registrar.signer, key.address, fingerprint)
    if fingerprint.digest not in done.enterprises:
        done.enterprises.append(fingerprint.digest)
    return fingerprint.digest, key


def grant_call(
    stack: Stack,
    done: Consenting,
    key: LocalAccount,
    fp: bytes,
    grantee: bytes,
    scope: bytes,
    expiry: int,
) -> bytes:
    """The calldata relaying a consent signed by ``key``, for a multicall."""
    consent = Consent(fp, grantee, scope, expiry, done.next_nonce())
    signature = sign_consent(key.key, stack.consents.domain(), consent)
    done.keys.add((fp, grantee, scope))
    return stack.consents.call_data("grantConsent", consent.as_tuple(), signature)


def revoke_call(
    stack: Stack, done: Consenting, key: LocalAccount, fp: bytes, grantee: bytes, scope: bytes
) -> bytes:
    revocation = Revocation(fp, grantee, scope, done.next_nonce())
    signature = sign_revocation(key.key, stack.consents.domain(), revocation)
    done.keys.add((fp, grantee, scope))
    return stack.consents.call_data("revokeConsent", revocation.as_tuple(), signature)


def grant(
    stack: Stack,
    done: Consenting,
    key: LocalAccount,
    fp: bytes,
    grantee: bytes,
    scope: bytes,
    expiry: int,
) -> None:
    consent = Consent(fp, grantee, scope, expiry, done.next_nonce())
    signature = sign_consent(key.key, stack.consents.domain(), consent)
    stack.consents.grant(stack.bank_b.signer, consent, signature)  # any relayer with gas
    done.keys.add((fp, grantee, scope))


def revoke(
    stack: Stack, done: Consenting, key: LocalAccount, fp: bytes, grantee: bytes, scope: bytes
) -> None:
    revocation = Revocation(fp, grantee, scope, done.next_nonce())
    signature = sign_revocation(key.key, stack.consents.domain(), revocation)
    stack.consents.revoke(stack.bank_b.signer, revocation, signature)
    done.keys.add((fp, grantee, scope))


def anchor(stack: Stack, done: Consenting, first: int, last: int, reader: bytes) -> None:
    """Anchors a batch of read-log entries ``first..last`` (at most a few, or the root of a
    stand-in when ``last`` is huge)."""
    operator = stack.operator.signer
    entries = [
        ReadLogEntry(
            n, reader, reader, operator.address, SCOPE_CREDIT_REPORT, 1_700_000_000, reader
        )
        for n in range(first, min(last, first + 3) + 1)
    ]
    root = MerkleTree([e.leaf() for e in entries]).root
    done.anchored.append(stack.consents.anchor_read_log(operator, root, first, last).batch_index)


def history(stack: Stack) -> Consenting:
    """Grants, a revocation and a re-grant, a revocation before any grant, a consent that never
    expires (uint64 max), an unbinding and a rebinding to a new key (the old consents stay
    inactive), a grant and its revocation in one block, read-log anchors, and the clock moved past
    an expiry."""
    done = Consenting()
    bank_a = institution_id(stack.bank_a.signer.address)
    bank_b = institution_id(stack.bank_b.signer.address)
    e1, key1 = bind(stack, done, "E1")
    e2, key2 = bind(stack, done, "E2")
    soon = now(stack) + 30 * DAY

    grant(stack, done, key1, e1, bank_a, SCOPE_CREDIT_REPORT, soon)
    grant(stack, done, key1, e1, bank_b, SCOPE_LOAN_REVIEW, UINT64_MAX)
    revoke(stack, done, key1, e1, bank_a, SCOPE_CREDIT_REPORT)
    grant(stack, done, key1, e1, bank_a, SCOPE_CREDIT_REPORT, soon + DAY)
    revoke(stack, done, key2, e2, bank_b, SCOPE_CREDIT_REPORT)  # cancels before any grant
    grant(stack, done, key2, e2, bank_a, SCOPE_CREDIT_REPORT, soon)
    anchor(stack, done, 1, 3, e1)

    # E1's key is lost: unbound, then bound to a new key; its consents from the old key stay
    # inactive, the new key grants anew.
    stack.consents.unbind_enterprise(stack.registrar.signer, e1)
    _, new_key = bind(stack, done, "E1")
    grant(stack, done, new_key, e1, bank_a, SCOPE_CREDIT_REPORT, soon + 2 * DAY)

    # One block: a grant to bank B and its revocation, relayed together.
    stack.consents.multicall(
        stack.bank_a.signer,
        [
            grant_call(stack, done, new_key, e1, bank_b, SCOPE_CREDIT_REPORT, soon),
            revoke_call(stack, done, new_key, e1, bank_b, SCOPE_CREDIT_REPORT),
        ],
    )
    anchor(stack, done, 4, 4, e2)
    # Past the 30-day expiry of E2's consent to bank A (one block mined at the new time).
    stack.chain.w3.provider.make_request("evm_increaseTime", [31 * DAY])  # type: ignore[arg-type]
    stack.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    anchor(stack, done, 5, LARGEST_BATCH_END, e2)
    return done


def assert_consents_match_chain(
    stack: Stack, engine: sa.Engine, done: Consenting, block: int | None = None
) -> None:
    """The index agrees with the ConsentRegistry's views (as of ``block``, None: now) on the
    scenario's bindings, consents (and whether each is active) and read-log batches."""
    at: int | str = "latest" if block is None else block
    timestamp = int(stack.chain.w3.eth.get_block(at)["timestamp"])
    views = ContractViews(stack.chain, stack.consents.contract, at)
    keys = sorted(done.keys)
    count, *answers = views.call(
        [("readLogBatchCount", [])]
        + [("bindingOf", [fp]) for fp in done.enterprises]
        + [(view, list(key)) for key in keys for view in ("consentOf", "isConsentActive")]
    )
    bindings_on_chain = answers[: len(done.enterprises)]
    consents_on_chain = answers[len(done.enterprises) :]
    batches = views.call([("readLogBatch", [i]) for i in range(count)])
    with engine.connect() as connection:
        bindings = {r["enterprise"]: r for r in enterprise_bindings_as_of(connection, block)}
        for fp, (account, key_version, epoch, bound) in zip(
            done.enterprises, bindings_on_chain, strict=True
        ):
            row = bindings.get(hx(fp))
            if epoch == 0:
                assert row is None, (fp, block)
                continue
            assert row is not None, (fp, block)
            assert (row["account"], row["key_version"], row["epoch"], bool(row["bound"])) == (
                account,
                key_version,
                epoch,
                bound,
            ), block
        for i, (fp, grantee, scope) in enumerate(keys):
            (status, epoch, expiry, nonce, signer), active = (
                consents_on_chain[2 * i],
                consents_on_chain[2 * i + 1],
            )
            row = consent_as_of(connection, hx(fp), hx(grantee), hx(scope), block)
            if status == ConsentStatus.NONE:
                assert row is None, block
            else:
                assert row is not None, block
                assert row["status"] == ConsentStatus(status).name.lower(), block
                assert (row["epoch"], row["expiry"], row["nonce"], row["signer"]) == (
                    epoch,
                    expiry,
                    nonce,
                    signer,
                ), block
            indexed = consent_active_as_of(
                connection, hx(fp), hx(grantee), hx(scope), timestamp, block
            )
            assert indexed == active, (fp, grantee, scope, block)
        anchors = read_log_anchors_as_of(connection, block)
    assert [(r["merkle_root"], r["first_entry"], r["last_entry"]) for r in anchors] == [
        (hx(root), first, last) for root, first, last in batches
    ], block
    assert [r["batch_index"] for r in anchors] == list(range(count))


def test_consent_projections_equal_the_contract_views_at_every_block(
    stack: Stack, engine: sa.Engine
) -> None:
    done = history(stack)
    Indexer(engine, stack.chain, stack.deployment, chunk_size=4).run_until_caught_up()

    deployed = stack.deployment.contracts["ConsentRegistry"].block_number
    for block in range(deployed, stack.chain.block_number() + 1):
        assert_consents_match_chain(stack, engine, done, block)
    assert_consents_match_chain(stack, engine, done)


def test_grant_revoke_regrant_and_rebinding(stack: Stack, engine: sa.Engine) -> None:
    history(stack)
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    e1, e2 = enterprise("E1").digest, enterprise("E2").digest
    bank_a = hx(institution_id(stack.bank_a.signer.address))
    bank_b = hx(institution_id(stack.bank_b.signer.address))
    c = schema.consents
    with engine.connect() as connection:
        e1_bank_a = connection.execute(
            sa.select(c.c.status, c.c.epoch, c.c.nonce)
            .where(c.c.id == f"{hx(e1)}/{bank_a}/{hx(SCOPE_CREDIT_REPORT)}")
            .order_by(c.c.valid_from_block)
        ).all()
        e1_bank_b = connection.execute(
            sa.select(c.c.status, c.c.valid_from_block)
            .where(c.c.id == f"{hx(e1)}/{bank_b}/{hx(SCOPE_CREDIT_REPORT)}")
            .order_by(c.c.valid_from_block)
        ).all()
        cancelled = consent_as_of(connection, hx(e2), bank_b, hx(SCOPE_CREDIT_REPORT))
        forever = consent_as_of(connection, hx(e1), bank_b, hx(SCOPE_LOAN_REVIEW))
        bindings = connection.execute(
            sa.select(
                schema.enterprise_bindings.c.epoch,
                schema.enterprise_bindings.c.bound,
                schema.enterprise_bindings.c.account,
            )
            .where(schema.enterprise_bindings.c.enterprise == hx(e1))
            .order_by(schema.enterprise_bindings.c.valid_from_block)
        ).all()
        for_e1 = consents_as_of(connection, enterprise=hx(e1))
    # Granted, revoked, granted again under epoch 1; granted anew by the new key under epoch 2.
    assert [(status, epoch) for status, epoch, _ in e1_bank_a] == [
        ("granted", 1),
        ("revoked", 1),
        ("granted", 1),
        ("granted", 2),
    ]
    assert [nonce for *_, nonce in e1_bank_a] == sorted(nonce for *_, nonce in e1_bank_a)
    # Granted and revoked in one block: one version, the state at the block's end.
    assert [status for status, _ in e1_bank_b] == ["revoked"]
    assert cancelled is not None
    assert (cancelled["status"], cancelled["expiry"]) == ("revoked", 0)
    assert forever is not None
    assert forever["expiry"] == UINT64_MAX
    assert [(epoch, bool(bound)) for epoch, bound, _ in bindings] == [
        (1, True),
        (1, False),
        (2, True),
    ]
    assert bindings[0][2] == bindings[1][2] != bindings[2][2]  # the account kept when unbound
    assert len(for_e1) == 3
    # The old key's consent to bank B (LOAN_REVIEW) is granted but inactive under epoch 2.
    with engine.connect() as connection:
        assert not consent_active_as_of(
            connection, hx(e1), bank_b, hx(SCOPE_LOAN_REVIEW), now(stack)
        )
        assert consent_active_as_of(connection, hx(e1), bank_a, hx(SCOPE_CREDIT_REPORT), now(stack))
        # E2's consent to bank A expired with the clock moved on.
        assert not consent_active_as_of(
            connection, hx(e2), bank_a, hx(SCOPE_CREDIT_REPORT), now(stack)
        )


def test_read_log_anchors(stack: Stack, engine: sa.Engine) -> None:
    done = history(stack)
    Indexer(engine, stack.chain, stack.deployment).run_until_caught_up()
    with engine.connect() as connection:
        anchors = read_log_anchors_as_of(connection)
        before_last = read_log_anchors_as_of(connection, anchors[-1]["block_number"] - 1)
    assert [(r["batch_index"], r["first_entry"], r["last_entry"]) for r in anchors] == [
        (0, 1, 3),
        (1, 4, 4),
        (2, 5, LARGEST_BATCH_END),
    ]
    assert done.anchored == [0, 1, 2]
    assert {r["operator"] for r in anchors} == {stack.operator.signer.address}
    assert {r["contract"] for r in anchors} == {stack.consents.address}
    assert len(before_last) == 2


def test_a_refused_consent_changes_neither_chain_nor_index(stack: Stack, engine: sa.Engine) -> None:
    done = Consenting()
    fp, key = bind(stack, done, "E1")
    index = Indexer(engine, stack.chain, stack.deployment)
    index.run_until_caught_up()
    before = dump_database(engine)
    tip = stack.tip()
    bank_a = institution_id(stack.bank_a.signer.address)
    forged = Consent(fp, bank_a, SCOPE_CREDIT_REPORT, now(stack) + DAY, 1)
    signature = sign_consent(Account.create().key, stack.consents.domain(), forged)
    with pytest.raises(errors.RuleViolation) as raised:
        stack.consents.grant(stack.bank_b.signer, forged, signature)
    assert raised.value.rule == "invalid-enterprise-signature"
    assert raised.value.details["enterprise"] == hx(fp)
    with pytest.raises(errors.MissingRole) as denied:
        stack.consents.anchor_read_log(stack.bank_a.signer, b"\x01" * 32, 1, 1)
    assert denied.value.rule == "missing-role"
    assert denied.value.details == {
        "account": stack.bank_a.signer.address,
        "neededRole": hx(OPERATOR_ROLE),
    }
    # No block, and the head's hash (which commits to the state) as before.
    assert stack.tip() == tip
    assert index.run_until_caught_up() == 0
    assert dump_database(engine) == before
    with engine.connect() as connection:
        assert consents_as_of(connection) == []
        assert read_log_anchors_as_of(connection) == []
    assert key.address == stack.consents.address_of(fp)
