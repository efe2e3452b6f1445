"""A Merkle tree whose roots and proofs OpenZeppelin's ``MerkleProof.verify`` accepts.

OpenZeppelin hashes each pair in sorted order (``keccak256(min(a, b) || max(a, b))``), so a proof
is just the list of siblings from the leaf up, with no left/right flags. The tree here is built
level by level over the leaves *in the order given* (for the read log: entry order, so the proof of
an entry is found by its position in the batch); a node left without a partner at the end of a
level moves up unchanged. Any tree shape verifies the same way on chain; this one keeps proofs at
most ``ceil(log2(n))`` long.

Leaves are 32-byte hashes that the caller computes. They must not be 64 bytes of anything before
hashing, or an inner node could pass as a leaf: hash the record twice, as OpenZeppelin recommends
(see :meth:`registry.contracts.consents.ReadLogEntry.leaf`).
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils.crypto import keccak

from registry.errors import InvalidInput

__all__ = ["MerkleTree", "hash_pair", "process_proof", "verify_proof"]

_HASH_BYTES = 32


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative keccak256 of two nodes."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(proof: Sequence[bytes], leaf: bytes) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (``MerkleProof.processProof``)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify_proof(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """Whether ``proof`` shows ``leaf`` under ``root`` (``MerkleProof.verify``)."""
    return process_proof(proof, leaf) == root


def _check_hash(value: object, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != _HASH_BYTES:
        raise InvalidInput(field, "hash-32-bytes", f"{field} must be {_HASH_BYTES} bytes")
    return value


class MerkleTree:
    """The tree over ``leaves`` (at least one, each 32 bytes), kept in the order given."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise InvalidInput("leaves", "merkle-tree-empty", "a Merkle tree needs a leaf")
        level = [_check_hash(leaf, f"leaves[{i}]") for i, leaf in enumerate(leaves)]
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            pairs = range(0, len(level) - 1, 2)
            upper = [hash_pair(level[i], level[i + 1]) for i in pairs]
            if len(level) % 2:
                upper.append(level[-1])
            self._levels.append(upper)
            level = upper

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    @property
    def leaves(self) -> tuple[bytes, ...]:
        return tuple(self._levels[0])

    def __len__(self) -> int:
        return len(self._levels[0])

    def proof(self, index: int) -> list[bytes]:
        """The siblings of leaf ``index`` from the bottom up: what ``MerkleProof.verify`` takes."""
        if not 0 <= index < len(self):
            raise InvalidInput(
                "index", "merkle-leaf-index", f"leaf index {index} is outside 0..{len(self) - 1}"
            )
        proof = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof
