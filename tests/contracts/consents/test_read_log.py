"""anchorReadLog: the read log's batches anchored by their Merkle roots, contiguous and
bounded, and each entry verified on chain against its batch.
"""

from __future__ import annotations

from dataclasses import replace

from eth_utils.crypto import keccak

from registry.chain.client import Signer
from registry.contracts.consents import SCOPE_CREDIT_REPORT, ReadLogBatch, ReadLogEntry
from registry.merkle import MerkleTree
from tests.contracts.consents.conftest import BANK_A, Registry


def read_log(first: int, count: int, reader: Signer) -> list[ReadLogEntry]:
    return [
        ReadLogEntry(
            entry_id=entry_id,
            enterprise=keccak(text=f"enterprise {entry_id % 3}"),
            reader_institution=BANK_A,
            reader=reader.address,
            scope=SCOPE_CREDIT_REPORT,
            read_at=1_800_000_000 + entry_id,
            response_digest=keccak(text=f"report {entry_id}"),
        )
        for entry_id in range(first, first + count)
    ]


def test_read_log_batches_anchor_and_verify_on_chain(any_reg: Registry) -> None:
    reg = any_reg
    bank = reg.stack.bank_a.signer
    first = 1
    for batch_index, size in enumerate((1, 2, 3, 5, 8)):
        entries = read_log(first, size, bank)
        tree = MerkleTree([entry.leaf() for entry in entries])
        anchored = reg.registry.anchor_read_log(reg.operator, tree.root, first, first + size - 1)
        assert anchored.batch_index == batch_index
        (event,) = reg.registry.events(anchored.tx, "ReadLogAnchored")
        assert event == {
            "batchIndex": batch_index,
            "merkleRoot": tree.root,
            "firstEntry": first,
            "lastEntry": first + size - 1,
            "operator": reg.operator.address,
        }
        assert reg.registry.read_log_batch(batch_index) == ReadLogBatch(
            tree.root, first, first + size - 1
        )
        for index, entry in enumerate(entries):
            assert reg.registry.hash_read_log_entry(entry) == entry.leaf()
            proof = tree.proof(index)
            assert reg.registry.verify_read_log_entry(batch_index, entry, proof)
            assert reg.registry.verify_read_log_leaf(batch_index, entry.leaf(), proof)
        first += size
    assert reg.registry.read_log_batch_count() == 5
    assert reg.registry.next_read_log_entry() == first


def test_read_log_proofs_expose_tampering(reg: Registry) -> None:
    entries = read_log(1, 6, reg.stack.bank_a.signer)
    tree = MerkleTree([entry.leaf() for entry in entries])
    reg.registry.anchor_read_log(reg.operator, tree.root, 1, 6)
    assert reg.registry.read_log_root(0) == tree.root
    proof = tree.proof(2)
    assert reg.registry.verify_read_log_entry(0, entries[2], proof)

    # Who read what cannot be altered: another reader, another report, another entry's proof.
    altered = [
        replace(entries[2], reader=reg.relayer.address),
        replace(entries[2], response_digest=keccak(text="a doctored report")),
        replace(entries[2], read_at=entries[2].read_at + 1),
    ]
    for entry in altered:
        assert not reg.registry.verify_read_log_entry(0, entry, proof)
        assert not reg.registry.verify_read_log_leaf(0, entry.leaf(), proof)
    assert not reg.registry.verify_read_log_entry(0, entries[2], tree.proof(3))


def test_read_log_entries_outside_the_batch_do_not_verify(reg: Registry) -> None:
    entries = read_log(1, 4, reg.stack.bank_a.signer)
    tree = MerkleTree([entry.leaf() for entry in entries])
    # An operator's slip: the batch claims entries 1..3 but the tree holds four.
    reg.registry.anchor_read_log(reg.operator, tree.root, 1, 3)
    assert reg.registry.verify_read_log_entry(0, entries[2], tree.proof(2))
    assert not reg.registry.verify_read_log_entry(0, entries[3], tree.proof(3))

    # A bare leaf proves only that a node is in the tree: an inner node passes as a "leaf",
    # which is why auditors verify the entry itself.
    inner = MerkleTree([entries[0].leaf(), entries[1].leaf()]).root
    assert reg.registry.verify_read_log_leaf(0, inner, tree.proof(0)[1:])


def test_read_log_ranges_must_be_contiguous(any_reg: Registry) -> None:
    reg = any_reg
    root = b"\x01" * 32
    for first, last in [(0, 3), (2, 3), (1, 0)]:
        details = reg.violated(
            "read-log-range-invalid",
            lambda f=first, la=last: reg.registry.anchor_read_log(reg.operator, root, f, la),
        )
        assert details == {"expectedFirst": 1, "first": first, "last": last}
    reg.registry.anchor_read_log(reg.operator, root, 1, 10)

    for first, last in [(10, 12), (12, 20), (5, 30)]:  # overlap, gap, overlap
        details = reg.violated(
            "read-log-range-invalid",
            lambda f=first, la=last: reg.registry.anchor_read_log(reg.operator, root, f, la),
        )
        assert details["expectedFirst"] == 11
    reg.violated(
        "read-log-root-zero", lambda: reg.registry.anchor_read_log(reg.operator, bytes(32), 11, 11)
    )
    assert reg.registry.anchor_read_log(reg.operator, root, 11, 11).batch_index == 1


def test_a_read_log_batch_is_bounded_so_numbering_never_runs_out(reg: Registry) -> None:
    """One anchor claiming entries up to 2**64 - 1 used to overflow the next entry number and stop
    anchoring for good; a batch now covers at most MAX_READ_LOG_BATCH entries."""
    root = b"\x01" * 32
    most = reg.registry.contract.functions.MAX_READ_LOG_BATCH().call()
    assert most == 2**32
    for last in (2**64 - 1, most + 1):
        details = reg.violated(
            "read-log-range-invalid",
            lambda la=last: reg.registry.anchor_read_log(reg.operator, root, 1, la),
        )
        assert details == {"expectedFirst": 1, "first": 1, "last": last}
    reg.registry.anchor_read_log(reg.operator, root, 1, most)  # the largest batch
    assert reg.registry.next_read_log_entry() == most + 1
    reg.registry.anchor_read_log(reg.operator, root, most + 1, most + 1)
    assert reg.registry.next_read_log_entry() == most + 2


def test_unknown_read_log_batch(reg: Registry) -> None:
    details = reg.violated("read-log-batch-not-found", lambda: reg.registry.read_log_root(0))
    assert details == {"batchIndex": 0, "batchCount": 0}
    entry = read_log(1, 1, reg.stack.bank_a.signer)[0]
    reg.violated(
        "read-log-batch-not-found", lambda: reg.registry.verify_read_log_entry(0, entry, [])
    )
    reg.violated("read-log-batch-not-found", lambda: reg.registry.read_log_batch(0))
    reg.violated(
        "read-log-batch-not-found",
        lambda: reg.registry.verify_read_log_leaf(0, entry.leaf(), []),
    )
