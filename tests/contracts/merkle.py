"""The order-batch Merkle tree exactly as FlexMarket.commitOrderBatch builds it.

Leaves are order hashes in the order given. Each level pairs neighbours (0,1), (2,3), ... and
hashes the pair sorted (keccak256(min ‖ max), as OpenZeppelin's MerkleProof expects); an odd last
node is promoted unchanged to the next level, so its proof has no element for that level.
"""

from __future__ import annotations

from eth_utils import keccak


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


def levels(leaves: list[bytes]) -> list[list[bytes]]:
    """All levels, leaves first, root level last."""
    if not leaves:
        raise ValueError("a batch needs at least one leaf")
    tree = [list(leaves)]
    while len(tree[-1]) > 1:
        level = tree[-1]
        parent = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            parent.append(level[-1])
        tree.append(parent)
    return tree


def root(leaves: list[bytes]) -> bytes:
    return levels(leaves)[-1][0]


def proof(leaves: list[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf ``index`` up to the root (promotions contribute nothing)."""
    path = []
    for level in levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def verify(leaf: bytes, path: list[bytes], expected_root: bytes) -> bool:
    node = leaf
    for sibling in path:
        node = hash_pair(node, sibling)
    return node == expected_root
