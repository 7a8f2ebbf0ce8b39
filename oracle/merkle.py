"""Merkle trees over order hashes, as FlexMarket.commitOrderBatch builds them.

Pairs are hashed sorted (``keccak(min(a, b) ++ max(a, b))``, as OpenZeppelin's
MerkleProof expects) and an odd node at the end of a level is promoted unchanged, so a
proof is verified with ``MerkleProof.verify`` on chain.
"""

from collections.abc import Sequence

from oracle.hashing import keccak256


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak256(a + b) if a < b else keccak256(b + a)


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    paired = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        paired.append(level[-1])
    return paired


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    level = list(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from the leaf at ``index`` up to the root."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf index {index} outside 0..{len(leaves) - 1}")
    proof: list[bytes] = []
    level = list(leaves)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        level = _next_level(level)
        index //= 2
    return proof


def verify_proof(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    computed = leaf
    for sibling in proof:
        computed = hash_pair(computed, sibling)
    return computed == root


class MerkleTree:
    """All levels of one tree, so that many proofs cost one build."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        self._levels = [list(leaves)]
        while len(self._levels[-1]) > 1:
            self._levels.append(_next_level(self._levels[-1]))

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        if not 0 <= index < len(self._levels[0]):
            raise IndexError(f"leaf index {index} outside 0..{len(self._levels[0]) - 1}")
        proof: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof
