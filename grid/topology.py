"""The node structure a DSO publishes: its grid as a tree of buses under the external grid.

The tree is a breadth-first spanning tree from the external-grid bus over what conducts:
in-service lines and 2-/3-winding transformers whose switches are closed, and closed bus-bus
switches. A radial grid gives its own tree; in a meshed grid BFS keeps the first path found
to each bus (the shortest in branches), which is what "at or below" then means.

Node ids are ``bus index + 1`` (ids are never 0 on chain; 0 is a root's parent). Depth counts
as on chain: the root has depth 1 and no node may be deeper than ``MAX_DEPTH``.
"""

import json
import math
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from pandapower.auxiliary import pandapowerNet

from grid.elements import NodeKind
from grid.errors import DisconnectedBusesError, GridInputError, TopologyError, TreeTooDeepError

MAX_DEPTH = 32  # contracts/src/GridRegistry.sol MAX_DEPTH


@dataclass(frozen=True)
class GridNode:
    """One published node; ``x``/``y`` are the bus coordinates (schematic when the model
    has none, ``None`` for a bus the model gives none while others have some)."""

    node_id: int
    parent_id: int
    name: str
    kind: NodeKind
    voltage_kv: float
    bus: int
    x: float | None
    y: float | None


def node_id_of_bus(bus: int) -> int:
    """The published node id of a pandapower bus index."""
    return bus + 1


def node_tree(net: pandapowerNet, exclude_disconnected: bool = False) -> list[GridNode]:
    """The grid's node tree, parents before children, in BFS order from the external grid.

    In-service buses the external grid does not reach raise ``DisconnectedBusesError``
    unless ``exclude_disconnected`` leaves them out.
    """
    root = _root_bus(net)
    parent_of, depth_of = _spanning_tree(_adjacency(net), root)
    _check_all_reached(net, parent_of, exclude_disconnected)
    _check_depth(depth_of)
    places = _coordinates(net, parent_of)
    return [_node(net, bus, parent_of[bus], places.get(bus)) for bus in parent_of]


def children_of(nodes: Sequence[GridNode]) -> dict[int, list[int]]:
    """Each node id's child node ids (leaves map to an empty list)."""
    children: dict[int, list[int]] = {node.node_id: [] for node in nodes}
    for node in nodes:
        if node.parent_id:
            children[node.parent_id].append(node.node_id)
    return children


def ancestors(nodes: Sequence[GridNode], node_id: int) -> list[int]:
    """The node itself first, then its parent, up to the root."""
    parent_of = {node.node_id: node.parent_id for node in nodes}
    if node_id not in parent_of:
        raise GridInputError("node_id", f"no node {node_id} in the tree")
    path = [node_id]
    while parent_of[path[-1]] and len(path) <= len(parent_of):
        path.append(parent_of[path[-1]])
    return path


def is_at_or_below(nodes: Sequence[GridNode], node_id: int, ancestor_id: int) -> bool:
    """``GridRegistry.isAtOrBelow``: a node is at or below itself and below its ancestors."""
    return ancestor_id in ancestors(nodes, node_id)


def nearest_bus_node(
    nodes: Sequence[GridNode], x: float, y: float, voltage_kv: float | None = None
) -> int:
    """The node id to propose for an asset at (``x``, ``y``), in the tree's coordinates.

    Candidates are non-root nodes with coordinates at ``voltage_kv`` (default: the lowest
    voltage level, where households and small assets connect). The nearest wins; at equal
    distance (co-located buses) a leaf beats a junction, then the lower voltage, then the
    lower id.
    """
    leaves = {node_id for node_id, below in children_of(nodes).items() if not below}
    ranked = [
        (math.hypot(px - x, py - y), node.node_id not in leaves, node.voltage_kv, node.node_id)
        for node, px, py in _placeable(nodes, voltage_kv)
    ]
    return min(ranked)[3]


def _placeable(
    nodes: Sequence[GridNode], voltage_kv: float | None
) -> list[tuple[GridNode, float, float]]:
    """Non-root nodes with coordinates at the asked (or lowest) voltage level."""
    xys = [(node, node.x, node.y) for node in nodes if node.kind == "bus"]
    located = [(node, x, y) for node, x, y in xys if x is not None and y is not None]
    if not located:
        raise GridInputError("nodes", "no non-root node has coordinates")
    levels = sorted({node.voltage_kv for node, _, _ in located})
    level = levels[0] if voltage_kv is None else voltage_kv
    at_level = [p for p in located if math.isclose(p[0].voltage_kv, level, rel_tol=1e-6)]
    if not at_level:
        shown = ", ".join(f"{v:g}" for v in levels)
        raise GridInputError("voltage_kv", f"no node at {level:g} kV; levels are {shown}")
    return at_level


def _root_bus(net: pandapowerNet) -> int:
    feeds = net.ext_grid[net.ext_grid.in_service]
    buses = sorted({int(bus) for bus in feeds.bus})
    if len(buses) != 1:
        raise TopologyError(
            f"net.ext_grid: a node tree needs exactly one in-service external grid bus, "
            f"found {buses or 'none'}"
        )
    if not bool(net.bus.at[buses[0], "in_service"]):
        raise TopologyError(f"net.ext_grid: its bus {buses[0]} is out of service")
    return buses[0]


def _adjacency(net: pandapowerNet) -> dict[int, list[int]]:
    """Bus -> neighbouring buses over everything that conducts, sorted for determinism."""
    live = set(net.bus.index[net.bus.in_service].astype(int))
    neighbours: dict[int, set[int]] = {bus: set() for bus in live}
    for a, b in _conducting_pairs(net):
        if a in live and b in live and a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    return {bus: sorted(near) for bus, near in neighbours.items()}


def _conducting_pairs(net: pandapowerNet) -> Iterable[tuple[int, int]]:
    yield from _branch_pairs(net.line, "l", "from_bus", "to_bus", net.switch)
    yield from _branch_pairs(net.trafo, "t", "hv_bus", "lv_bus", net.switch)
    yield from _branch_pairs(net.trafo3w, "t3", "hv_bus", "mv_bus", net.switch)
    yield from _branch_pairs(net.trafo3w, "t3", "hv_bus", "lv_bus", net.switch)
    closed = net.switch[(net.switch.et == "b") & net.switch.closed]
    yield from zip(closed.bus.astype(int), closed.element.astype(int), strict=True)


def _branch_pairs(
    table: pd.DataFrame, switch_kind: str, end_a: str, end_b: str, switches: pd.DataFrame
) -> Iterable[tuple[int, int]]:
    """In-service branches without an open switch at either end (an open switch cuts it)."""
    opened = switches[(switches.et == switch_kind) & ~switches.closed].element
    usable = table[table.in_service & ~table.index.isin(opened)]
    return zip(usable[end_a].astype(int), usable[end_b].astype(int), strict=True)


def _spanning_tree(
    neighbours: dict[int, list[int]], root: int
) -> tuple[dict[int, int | None], dict[int, int]]:
    """BFS parents (insertion order = BFS order) and depths (root = 1)."""
    parent_of: dict[int, int | None] = {root: None}
    depth_of = {root: 1}
    queue = deque([root])
    while queue:
        bus = queue.popleft()
        for near in neighbours[bus]:
            if near not in parent_of:
                parent_of[near] = bus
                depth_of[near] = depth_of[bus] + 1
                queue.append(near)
    return parent_of, depth_of


def _check_all_reached(
    net: pandapowerNet, parent_of: dict[int, int | None], exclude_disconnected: bool
) -> None:
    live = net.bus.index[net.bus.in_service].astype(int)
    unreached = sorted(int(bus) for bus in live if bus not in parent_of)
    if unreached and not exclude_disconnected:
        raise DisconnectedBusesError(unreached)


def _check_depth(depth_of: dict[int, int]) -> None:
    bus, depth = max(depth_of.items(), key=lambda item: item[1])
    if depth > MAX_DEPTH:
        raise TreeTooDeepError(bus, depth, MAX_DEPTH)


def _node(
    net: pandapowerNet, bus: int, parent: int | None, place: tuple[float, float] | None
) -> GridNode:
    name = net.bus.at[bus, "name"]
    return GridNode(
        node_id=node_id_of_bus(bus),
        parent_id=0 if parent is None else node_id_of_bus(parent),
        name=str(name) if isinstance(name, str) and name else f"bus {bus}",
        kind="root" if parent is None else "bus",
        voltage_kv=float(net.bus.at[bus, "vn_kv"]),
        bus=bus,
        x=None if place is None else place[0],
        y=None if place is None else place[1],
    )


def _coordinates(
    net: pandapowerNet, parent_of: dict[int, int | None]
) -> dict[int, tuple[float, float]]:
    """Bus coordinates from the model's geodata, or a schematic layout if it has none."""
    geodata = _geodata(net)
    if any(bus in geodata for bus in parent_of):
        return geodata
    return _schematic_layout(parent_of)


def _geodata(net: pandapowerNet) -> dict[int, tuple[float, float]]:
    """Points of ``net.bus.geo`` (pandapower 3 keeps GeoJSON strings there)."""
    if "geo" not in net.bus:
        return {}
    places: dict[int, tuple[float, float]] = {}
    for bus, geo in net.bus.geo.items():
        point = _point(geo)
        if point is not None:
            places[int(bus)] = point
    return places


def _point(geo: object) -> tuple[float, float] | None:
    if not isinstance(geo, str):
        return None
    try:
        shape = json.loads(geo)
    except json.JSONDecodeError:
        return None
    if not isinstance(shape, dict) or shape.get("type") != "Point":
        return None
    x, y = shape["coordinates"][:2]
    return float(x), float(y)


def _schematic_layout(parent_of: dict[int, int | None]) -> dict[int, tuple[float, float]]:
    """A tidy tree drawing: leaves one unit apart left to right, each parent centred over its
    children, one unit down per level (y = -(depth - 1))."""
    children: dict[int, list[int]] = {bus: [] for bus in parent_of}
    for bus, parent in parent_of.items():
        if parent is not None:
            children[parent].append(bus)
    places: dict[int, tuple[float, float]] = {}
    root = next(iter(parent_of))
    _place(root, 0, children, places, [0.0])
    return places


def _place(
    bus: int,
    level: int,
    children: dict[int, list[int]],
    places: dict[int, tuple[float, float]],
    next_leaf_x: list[float],
) -> float:
    # Recursion depth is bounded by the tree depth, which _check_depth capped at MAX_DEPTH.
    if children[bus]:
        xs = [_place(child, level + 1, children, places, next_leaf_x) for child in children[bus]]
        x = (xs[0] + xs[-1]) / 2
    else:
        x = next_leaf_x[0]
        next_leaf_x[0] += 1.0
    places[bus] = (x, float(-level))
    return x


class BusTree:
    """A node tree seen by pandapower bus index: parents, depths and subtrees."""

    def __init__(self, nodes: Sequence[GridNode]) -> None:
        bus_of = {node.node_id: node.bus for node in nodes}
        self.parent: dict[int, int | None] = {n.bus: bus_of.get(n.parent_id) for n in nodes}
        self.children: dict[int, list[int]] = {bus: [] for bus in self.parent}
        self.depth: dict[int, int] = {}
        for node in nodes:  # parents come before their children
            above = self.parent[node.bus]
            self.depth[node.bus] = 1 if above is None else self.depth[above] + 1
            if above is not None:
                self.children[above].append(node.bus)
        self.root = next(node.bus for node in nodes if node.kind == "root")

    def __contains__(self, bus: object) -> bool:
        return bus in self.parent

    def is_strictly_below(self, bus: int, ancestor: int) -> bool:
        above = self.parent[bus]
        while above is not None:
            if above == ancestor:
                return True
            above = self.parent[above]
        return False

    def shallowest(self, start: int, accepted: Collection[int]) -> list[int]:
        """The accepted buses nearest to ``start`` on each path down from it (``start``
        itself if accepted): the highest places in its subtree that are accepted."""
        found: list[int] = []
        queue = deque([start])
        while queue:
            bus = queue.popleft()
            if bus in accepted:
                found.append(bus)
            else:
                queue.extend(self.children[bus])
        return found
