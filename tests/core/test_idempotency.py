"""The idempotency store (registry.idempotency) on SQLite and PostgreSQL: who answers a key, the
answer kept for every retry, and a dead owner's claim taken over with what it signed.

The API's tests (tests/api/test_idempotency.py, tests/system/test_write_kills.py) drive it through
requests; these pin the store's own answers on both backends, where a difference between drivers
once made every fresh key look taken on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_utils.address import to_checksum_address

from registry.chain.client import SentTx
from registry.db import create_schema
from registry.errors import InvalidInput
from registry.idempotency import Answer, Claim, IdempotencyStore, Pending

SENT = SentTx("0x" + "ab" * 32, to_checksum_address("0x" + "12" * 20), 7)


@pytest.fixture
def store(engine: sa.Engine) -> IdempotencyStore:
    create_schema(engine)
    return IdempotencyStore(engine)


@pytest.fixture
def zombie_owner(store: IdempotencyStore) -> Iterator[str]:
    """An owner as a process of this host recorded it while it ran, that has since exited and is
    not yet reaped: dead, though /proc still shows it (a killed API worker, until its supervisor
    reaps it)."""
    child = subprocess.Popen(["true"])
    stat = Path(f"/proc/{child.pid}/stat")
    deadline = time.monotonic() + 10
    while (fields := stat.read_text().rsplit(")", 1)[1].split())[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    yield f"{store.owner.split(':')[0]}:{child.pid}:{fields[19]}"
    child.wait()


def test_a_fresh_key_is_claimed_and_then_pending_while_its_owner_lives(
    store: IdempotencyStore,
) -> None:
    claim = store.begin("Bank A", "k", "digest")

    assert isinstance(claim, Claim)
    assert claim.sent is None
    assert isinstance(store.begin("Bank A", "k", "digest"), Pending)
    assert isinstance(store.begin("Bank B", "k", "digest"), Claim)  # keys are per institution


def test_the_answer_is_kept_for_every_retry(store: IdempotencyStore) -> None:
    claim = store.begin("Bank A", "k", "digest")
    assert isinstance(claim, Claim)
    claim.answer(201, {"tx_hash": SENT.tx_hash}, {"Location": "/x"}, 12)

    assert store.begin("Bank A", "k", "digest") == Answer(
        201, {"tx_hash": SENT.tx_hash}, {"Location": "/x"}, 12
    )
    with pytest.raises(InvalidInput) as reused:
        store.begin("Bank A", "k", "another digest")
    assert reused.value.rule == "idempotency-key-reused"


@pytest.mark.parametrize(
    "sent", [SENT, replace(SENT, part=3)], ids=["alone", "one-call-of-a-grouped-transaction"]
)
def test_a_dead_owners_claim_is_taken_over_with_what_it_signed(
    store: IdempotencyStore, zombie_owner: str, sent: SentTx
) -> None:
    dead = IdempotencyStore(store.engine)
    dead.owner = zombie_owner
    first = dead.begin("Bank A", "k", "digest")
    assert isinstance(first, Claim)
    first.signed(sent)

    taken = store.begin("Bank A", "k", "digest")

    assert isinstance(taken, Claim)
    assert taken.sent == sent
    assert isinstance(dead.begin("Bank A", "k", "digest"), Pending)  # it is this process's now
