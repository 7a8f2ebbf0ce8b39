"""Grid node structures that system operators publish, and their licence areas.

A DSO or TSO imports its grid (:mod:`market.grid_sources`); the platform checks the tree,
stores its nodes as ``market_grid_node`` rows operated by the caller, and returns unsigned
``GridRegistry.registerNodes(nodeIds, parentIds, operator)`` transactions of up to
MAX_NODE_BATCH nodes each, parents before children, with consecutive nonces, for the
operator's wallet to sign and relay. A node becomes ``on_chain`` when its ``NodeRegistered``
event is indexed.

A system operator attaches its nodes only under nodes it operates itself (the chain refuses
any other parent, :sol:`GridRegistry.registerNode`); the market operator connects trees of
different operators.

The licence area of a system operator is every node at or below one of its licence nodes:
the nodes it operates, the node ids its registration lists, and the nodes whose
coordinates lie inside its registration's polygon.
"""

import json
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from grid.topology import MAX_DEPTH
from market.db.models import GridNode, Organisation, OrganisationKind
from market.errors import ConflictError, ForbiddenError, MarketValueError, NotFoundError
from market.geometry import in_polygon
from market.grid_sources import GridImport, NodeSpec, placed, read_source
from market.transactions import MAX_NODE_BATCH, batch_gas, unsigned_call
from oracle.types import Address

SYSTEM_OPERATORS = (OrganisationKind.DSO, OrganisationKind.TSO)
QUERY_CHUNK = 500  # ids per IN (...) query; SQLite caps bound parameters
REGISTER_NODES_TYPES = ("uint32[]", "uint32[]", "address")
REGISTER_NODES_SELECTOR = keccak(text="registerNodes(uint32[],uint32[],address)")[:4]

if TYPE_CHECKING:  # market.platform imports the sync, which imports these modules
    from market.platform import Platform


@dataclass(frozen=True, slots=True)
class GridImportResult:
    network: str
    nodes: list[GridNode]  # parents before children
    transactions: list[dict[str, Any]]  # registerNodes batches, in the nodes' order


def import_grid(
    session: Session, platform: "Platform", organisation: Organisation, body: GridImport
) -> GridImportResult:
    """Check and store an operator's grid; returns the transactions its wallet must send."""
    source = read_source(body)
    nodes = placed(source.nodes, offset=body.node_id_offset, attach_under=body.attach_under)
    locate = _Locator(source.field)
    reissued = _check_ids(session, organisation, nodes, locate)
    ordered = _check_tree(session, organisation, nodes, locate)
    transactions = _register_node_calls(platform, Address(organisation.address), ordered)
    rows = [_row(node, organisation, source.label, reissued.get(node.node_id)) for node in ordered]
    _store(session, rows)
    stored = _stored(session, (node.node_id for node in ordered))  # reloaded in a few queries
    return GridImportResult(source.label, [stored[node.node_id] for node in ordered], transactions)


def _store(session: Session, rows: list[GridNode]) -> None:
    session.add_all(rows)
    try:
        session.commit()
    except IntegrityError:  # another import took one of these ids since they were checked
        session.rollback()
        raise ConflictError(
            "node_id", "another import published some of these node ids just now; retry"
        ) from None


def get_node(session: Session, node_id: int) -> GridNode:
    node = session.get(GridNode, node_id)
    if node is None:
        raise NotFoundError("node_id", f"no grid node {node_id} on the platform")
    return node


def children(session: Session, node_id: int) -> list[GridNode]:
    query = select(GridNode).where(GridNode.parent_id == node_id).order_by(col(GridNode.node_id))
    return list(session.exec(query).all())


def list_nodes(
    session: Session,
    *,
    operator_id: str | None = None,
    network: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[GridNode]:
    query = select(GridNode)
    if operator_id is not None:
        query = query.where(GridNode.operator_id == operator_id)
    if network is not None:
        query = query.where(GridNode.network == network)
    query = query.order_by(col(GridNode.node_id)).offset(offset).limit(limit)
    return list(session.exec(query).all())


def ancestry(session: Session, node_id: int) -> list[GridNode]:
    """The node and its ancestors on the platform, the node first; empty if it is unknown."""
    path: list[GridNode] = []
    current = session.get(GridNode, node_id)
    # Bounded like the chain's tree (and so safe against a corrupt parent cycle).
    while current is not None and len(path) < MAX_DEPTH:
        path.append(current)
        current = session.get(GridNode, current.parent_id) if current.parent_id else None
    return path


def licence_nodes(session: Session, organisation: Organisation) -> set[int]:
    """The node ids that anchor a system operator's licence area (empty for anyone else)."""
    if organisation.kind not in SYSTEM_OPERATORS:
        return set()
    anchors = set(_listed_nodes(organisation))
    polygon = _polygon(organisation)
    query = select(GridNode)
    if polygon is None:
        query = query.where(GridNode.operator_id == organisation.id)
    for node in session.exec(query).all():
        if _covers(organisation, node, set(), polygon):
            anchors.add(node.node_id)
    return anchors


def in_licence_area(session: Session, organisation: Organisation, node_id: int) -> bool:
    """Whether ``node_id`` lies in the operator's licence area: the node or one of its
    ancestors is operated by it, listed in its licence area, or inside its polygon."""
    if organisation.kind not in SYSTEM_OPERATORS:
        return False
    listed = _listed_nodes(organisation)
    if node_id in listed:
        return True
    polygon = _polygon(organisation)
    return any(_covers(organisation, node, listed, polygon) for node in ancestry(session, node_id))


def operates_at_or_above(session: Session, organisation: Organisation, node_id: int) -> bool:
    """Whether the operator operates ``node_id`` or one of its ancestors: the area in which
    the chain lets it map assets (GridRegistry.confirmAssetNode). Listed licence nodes and
    polygons are platform-side only; the chain cannot know them."""
    if organisation.kind not in SYSTEM_OPERATORS:
        return False
    return any(node.operator_id == organisation.id for node in ancestry(session, node_id))


def area_node_ids(session: Session, organisation: Organisation) -> set[int]:
    """Every platform node id in the operator's licence area (its anchors and all below)."""
    anchors = licence_nodes(session, organisation)
    if not anchors:
        return set()
    below: dict[int, list[int]] = {}
    for node_id, parent_id in session.exec(select(GridNode.node_id, GridNode.parent_id)).all():
        below.setdefault(parent_id, []).append(node_id)
    area: set[int] = set()
    queue = deque(anchors)
    while queue:
        node_id = queue.popleft()
        if node_id not in area:
            area.add(node_id)
            queue.extend(below.get(node_id, ()))
    return area


def _listed_nodes(organisation: Organisation) -> set[int]:
    listed = json.loads(organisation.licence_area_nodes or "[]")
    return {int(node_id) for node_id in listed}


def _polygon(organisation: Organisation) -> list[Any] | None:
    if not organisation.licence_area_polygon:
        return None
    rings: list[Any] = json.loads(organisation.licence_area_polygon)["coordinates"]
    return rings


def _covers(
    organisation: Organisation, node: GridNode, listed: set[int], polygon: list[Any] | None
) -> bool:
    if node.operator_id == organisation.id or node.node_id in listed:
        return True
    if polygon is None or node.x is None or node.y is None:
        return False
    return in_polygon(polygon, node.x, node.y)


class _Locator:
    """Names the request field of a node's attribute: ``nodes.3.parent_id`` for a node list;
    for a model, ``node_id`` for ids and ``attach_under`` for where it hangs."""

    def __init__(self, source_field: str) -> None:
        self.listed = source_field == "nodes"

    def __call__(self, index: int, attribute: str) -> str:
        if self.listed:
            return f"nodes.{index}.{attribute}"
        return "attach_under" if attribute == "parent_id" else attribute


def _check_ids(
    session: Session, organisation: Organisation, nodes: Sequence[NodeSpec], locate: _Locator
) -> dict[int, GridNode]:
    """Ids unique in the import and free on the platform. Returns the caller's own stored
    nodes that never reached the chain and are imported again unchanged (a retry)."""
    seen: set[int] = set()
    for index, node in enumerate(nodes):
        if node.node_id in seen:
            raise MarketValueError(
                locate(index, "node_id"), f"node {node.node_id} appears twice in the import"
            )
        seen.add(node.node_id)
    taken = _stored(session, seen)
    reissued: dict[int, GridNode] = {}
    for index, node in enumerate(nodes):
        existing = taken.get(node.node_id)
        if existing is None:
            continue
        if not _is_retry(existing, node, organisation):
            raise ConflictError(
                locate(index, "node_id"),
                f"node {node.node_id} is already published on the platform; "
                "choose a node_id_offset that moves your ids clear of it",
            )
        reissued[node.node_id] = existing
    return reissued


def _is_retry(existing: GridNode, node: NodeSpec, organisation: Organisation) -> bool:
    return (
        existing.operator_id == organisation.id
        and not existing.on_chain
        and existing.parent_id == node.parent_id
    )


def _stored(session: Session, node_ids: Iterable[int]) -> dict[int, GridNode]:
    ids = sorted(node_ids)
    found: dict[int, GridNode] = {}
    for start in range(0, len(ids), QUERY_CHUNK):
        chunk = ids[start : start + QUERY_CHUNK]
        for node in session.exec(select(GridNode).where(col(GridNode.node_id).in_(chunk))).all():
            found[node.node_id] = node
    return found


def _check_tree(
    session: Session, organisation: Organisation, nodes: Sequence[NodeSpec], locate: _Locator
) -> list[NodeSpec]:
    """Parents exist and may be attached to, no cycles, depth within the chain's limit.
    Returns the nodes parents first (breadth first from the platform's nodes)."""
    index_of = {node.node_id: index for index, node in enumerate(nodes)}
    depth: dict[int, int] = {}
    below: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        if node.parent_id in index_of:
            below.setdefault(node.parent_id, []).append(node.node_id)
        else:
            depth[node.node_id] = _outside_depth(
                session, organisation, node, locate(index, "parent_id")
            )
    ordered = _breadth_first(list(depth), below, depth)
    if len(ordered) < len(nodes):
        stuck = min(index for node_id, index in index_of.items() if node_id not in depth)
        raise MarketValueError(
            locate(stuck, "parent_id"), f"node {nodes[stuck].node_id} sits on a parent cycle"
        )
    _check_depth(nodes, index_of, depth, locate)
    return [nodes[index_of[node_id]] for node_id in ordered]


def _breadth_first(
    roots: list[int], below: dict[int, list[int]], depth: dict[int, int]
) -> list[int]:
    """Node ids parents first from ``roots``; fills in ``depth`` for every node reached."""
    ordered: list[int] = []
    queue = deque(roots)
    while queue:
        node_id = queue.popleft()
        ordered.append(node_id)
        for child in below.get(node_id, ()):
            depth[child] = depth[node_id] + 1
            queue.append(child)
    return ordered


def _check_depth(
    nodes: Sequence[NodeSpec], index_of: dict[int, int], depth: dict[int, int], locate: _Locator
) -> None:
    node_id, deepest = max(depth.items(), key=lambda item: item[1])
    if deepest > MAX_DEPTH:
        raise MarketValueError(
            locate(index_of[node_id], "parent_id"),
            f"node {node_id} would sit at depth {deepest}, deeper than the chain's limit of "
            f"{MAX_DEPTH}; publish an aggregated (coarser) tree",
        )


def _outside_depth(session: Session, organisation: Organisation, node: NodeSpec, field: str) -> int:
    """The depth of a node whose parent is not in the import: 1 for a root, else one below
    a platform node that the caller may attach to."""
    if node.parent_id == 0:
        return 1
    path = ancestry(session, node.parent_id)
    if not path:
        raise MarketValueError(
            field, f"parent {node.parent_id} is neither in the import nor on the platform"
        )
    parent = path[0]
    if parent.operator_id != organisation.id:  # the chain refuses it (ParentNotOperated)
        raise ForbiddenError(
            field,
            f"parent {node.parent_id} is operated by another system operator; attach only "
            "under nodes you operate (the market operator connects different operators' trees)",
        )
    return len(path) + 1  # its own parent may still be in flight: the wallet sends in order


def _register_node_calls(
    platform: "Platform", operator: Address, nodes: Sequence[NodeSpec]
) -> list[dict[str, Any]]:
    """One unsigned registerNodes per MAX_NODE_BATCH nodes, parents first; the wallet sends
    them in order, so their nonces count up from the wallet's next one."""
    chunks = [
        nodes[start : start + MAX_NODE_BATCH] for start in range(0, len(nodes), MAX_NODE_BATCH)
    ]
    first = unsigned_call(
        platform,
        operator,
        "GridRegistry",
        "registerNodes",
        _register_args(chunks[0], operator),
        gas=batch_gas("registerNodes", len(chunks[0])),
    )
    return [first] + [
        {
            **first,
            "data": _register_nodes_data(chunk, operator),
            "nonce": first["nonce"] + position,
            "gas": batch_gas("registerNodes", len(chunk)),
        }
        for position, chunk in enumerate(chunks[1:], start=1)
    ]


def _register_args(
    nodes: Sequence[NodeSpec], operator: Address
) -> tuple[list[int], list[int], Address]:
    return ([node.node_id for node in nodes], [node.parent_id for node in nodes], operator)


def _register_nodes_data(nodes: Sequence[NodeSpec], operator: Address) -> str:
    """The call data of registerNodes, encoded directly (web3's contract encoder is slow)."""
    arguments = abi_encode(REGISTER_NODES_TYPES, _register_args(nodes, operator))
    return "0x" + (REGISTER_NODES_SELECTOR + arguments).hex()


def _row(
    node: NodeSpec, organisation: Organisation, network: str, existing: GridNode | None
) -> GridNode:
    fresh = GridNode(
        node_id=node.node_id,
        operator_id=organisation.id,
        parent_id=node.parent_id,
        name=node.name,
        kind=node.kind,
        voltage_kv=node.voltage_kv,
        x=node.x,
        y=node.y,
        network=network,
        bus=node.bus,
    )
    if existing is None:
        return fresh
    existing.sqlmodel_update(fresh.model_dump(exclude={"node_id", "operator_id", "on_chain"}))
    return existing
