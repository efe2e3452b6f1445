"""The read log's Merkle tree (registry.merkle), in Python alone: what the contract verifies
against.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import errors
from registry.merkle import MerkleTree, verify_proof
from tests.contracts.consents.conftest import hashes


@settings(max_examples=100, deadline=None)
@given(leaves=st.lists(hashes, min_size=1, max_size=40), data=st.data())
def test_every_proof_leads_to_the_root(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1))
    proof = tree.proof(index)
    assert verify_proof(proof, tree.root, leaves[index])
    assert len(proof) <= max(1, (len(leaves) - 1).bit_length())
    stranger = data.draw(hashes.filter(lambda leaf: leaf not in leaves))
    assert not verify_proof(proof, tree.root, stranger)


def test_merkle_tree_refuses_bad_input() -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        MerkleTree([])
    assert (raised.value.field, raised.value.rule) == ("leaves", "merkle-tree-empty")
    with pytest.raises(errors.InvalidInput) as raised:
        MerkleTree([b"\x01" * 32, b"short"])
    assert (raised.value.field, raised.value.rule) == ("leaves[1]", "hash-32-bytes")
    with pytest.raises(errors.InvalidInput) as raised:
        MerkleTree([b"\x01" * 32]).proof(1)
    assert (raised.value.field, raised.value.rule) == ("index", "merkle-leaf-index")
    single = MerkleTree([b"\x01" * 32])
    assert single.root == b"\x01" * 32
    assert single.proof(0) == []
