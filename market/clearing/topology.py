"""The grid as clearing needs it: each node's ancestors, computed once.

"At or below" is the contract's ``GridRegistry.isAtOrBelow``: a node is at or below itself and
below every node on its path to the root. Node ids are ``uint32`` and never 0 (0 means "no
parent" on chain; here a root's parent is ``None``). Depth is capped at ``MAX_DEPTH`` as on
chain (a root has depth 1), so no ancestor chain is longer than that.
"""

from collections.abc import Iterator, Mapping

from market.clearing.errors import ClearingInputError

MAX_DEPTH = 32  # GridRegistry.MAX_DEPTH
MAX_NODE_ID = 2**32 - 1


class GridTopology:
    """A forest of grid nodes given as ``node -> parent`` (``None`` for a root)."""

    __slots__ = ("_ancestors",)

    def __init__(self, parent_of: Mapping[int, int | None]) -> None:
        for node, parent in parent_of.items():
            _check_node_id(node, f"parent_of[{node!r}]")
            if parent is not None and parent not in parent_of:
                raise ClearingInputError(f"parent_of[{node}]", f"unknown parent node {parent!r}")
        self._ancestors: dict[int, tuple[int, ...]] = {}
        for node in parent_of:
            self._resolve(node, parent_of)

    def _resolve(self, node: int, parent_of: Mapping[int, int | None]) -> tuple[int, ...]:
        """Walks up to the first node already resolved (or a root); fills in the path."""
        path: list[int] = []
        on_path: set[int] = set()
        current: int | None = node
        while current is not None and current not in self._ancestors:
            if current in on_path:
                message = f"parent chain loops back to node {current}"
                raise ClearingInputError(f"parent_of[{node}]", message)
            path.append(current)
            on_path.add(current)
            current = parent_of[current]
        above = () if current is None else self._ancestors[current]
        for index in range(len(path) - 1, -1, -1):
            above = (path[index], *above)
            if len(above) > MAX_DEPTH:
                raise ClearingInputError(f"parent_of[{node}]", f"deeper than {MAX_DEPTH}")
            self._ancestors[path[index]] = above
        return self._ancestors[node]

    def ancestors(self, node: int) -> tuple[int, ...]:
        """The node itself first, then its parent, ..., its root last."""
        return self._ancestors[node]

    def is_at_or_below(self, node: int, ancestor: int) -> bool:
        """``GridRegistry.isAtOrBelow(node, ancestor)``."""
        return ancestor in self._ancestors[node]

    def __contains__(self, node: object) -> bool:
        return node in self._ancestors

    def __iter__(self) -> Iterator[int]:
        return iter(self._ancestors)

    def __len__(self) -> int:
        return len(self._ancestors)

    @property
    def ancestor_map(self) -> Mapping[int, tuple[int, ...]]:
        """Every node's :meth:`ancestors`, for hot loops."""
        return self._ancestors


def _check_node_id(node: object, field: str) -> None:
    if type(node) is not int or not 0 < node <= MAX_NODE_ID:
        raise ClearingInputError(field, f"node id must be an integer in 1..{MAX_NODE_ID}")
