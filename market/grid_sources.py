"""What a system operator imports as its grid node structure, read into plain node specs.

A grid import names exactly one source: a network of the catalogue (:mod:`grid.networks`),
a network saved with ``pandapower.to_json``, CIM/CGMES XML files (converted by pandapower's
cim2pp, which needs the ``lxml`` package), or a plain list of nodes. A pandapower model
becomes a tree with :func:`grid.topology.node_tree` (node id = bus index + 1, the external
grid bus is the root).

Node coordinates: ``x`` is the longitude and ``y`` the latitude (WGS 84 degrees), or the
model's schematic coordinates when it has no geodata (see :mod:`market.geometry`).
"""

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

from pandapower.auxiliary import pandapowerNet
from pydantic import BaseModel, ConfigDict, Field

from grid.errors import GridError, UnknownNetworkError
from grid.networks import cim_available, load_cim, load_network
from grid.topology import GridNode as TreeNode
from grid.topology import node_tree
from market.errors import MarketValueError
from market.pandapower_upload import read_pandapower_json

MAX_NODE_ID = 2**32 - 1  # node ids are uint32 on chain; 0 means "no parent"
MAX_NODES = 10_000  # per import: one registerNode transaction per node comes back
MAX_SOURCE_CHARS = 16_000_000  # a pandapower JSON network or all CIM files together
MAX_COORDINATE = 1e6  # schematic layouts can exceed longitude/latitude ranges
NAME_LENGTH = 120  # market_grid_node.name

NodeId = Annotated[int, Field(ge=1, le=MAX_NODE_ID)]
Coordinate = Annotated[float, Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)]


class NodeIn(BaseModel):
    """One node of a plain node list."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    node_id: NodeId
    parent_id: int = Field(
        ge=0,
        le=MAX_NODE_ID,
        description="0 for a root; a node of this list, or a node already on the platform.",
    )
    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    kind: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="e.g. bus, substation, feeder; default: root without a parent, else bus.",
    )
    voltage_kv: float = Field(gt=0, le=1200, allow_inf_nan=False, description="Nominal kV.")
    x: Coordinate | None = Field(default=None, description="Longitude (or schematic x).")
    y: Coordinate | None = Field(default=None, description="Latitude (or schematic y).")


class CimFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", description="e.g. EQ.xml")
    content: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS, description="The XML.")


class CimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[CimFile] = Field(min_length=1, max_length=16)
    cgmes_version: Literal["2.4.15", "3.0", "LTDS"] = "2.4.15"


class GridImport(BaseModel):
    """A grid import: exactly one of ``network``, ``pandapower_json``, ``cim``, ``nodes``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    network: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="A catalogue network (GET /api/v1/grid/networks).",
    )
    pandapower_json: str | None = Field(
        default=None,
        min_length=2,
        max_length=MAX_SOURCE_CHARS,
        description="A network as pandapower.to_json writes it.",
    )
    cim: CimIn | None = None
    nodes: list[NodeIn] | None = Field(default=None, min_length=1, max_length=MAX_NODES)
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=NAME_LENGTH,
        description="Label the nodes are stored under; default: the catalogue or model name.",
    )
    node_id_offset: int = Field(
        default=0,
        ge=0,
        le=MAX_NODE_ID - 1,
        description="Added to every node id of the import (and to parent ids naming them), "
        "so that several operators' models do not collide.",
    )
    attach_under: NodeId | None = Field(
        default=None,
        description="A platform node (in your licence area) the imported roots hang under.",
    )
    exclude_disconnected: bool = Field(
        default=False, description="Leave out buses the external grid does not reach."
    )


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node to publish, before or after placing it (offset, attachment)."""

    node_id: int
    parent_id: int
    name: str
    kind: str
    voltage_kv: float
    x: float | None
    y: float | None
    bus: int | None = None


@dataclass(frozen=True, slots=True)
class SourceNodes:
    """The nodes of one source; ``field`` names the request field they came from."""

    field: str
    label: str
    nodes: list[NodeSpec]


def read_source(body: GridImport) -> SourceNodes:
    """The node specs of the one source the import names, ids as the source gives them."""
    given = [name for name in ("network", "pandapower_json", "cim", "nodes") if getattr(body, name)]
    if len(given) != 1:
        raise MarketValueError(
            "network",
            "give exactly one of network, pandapower_json, cim or nodes"
            + (f" (got {', '.join(given)})" if given else ""),
        )
    source = _read(body, given[0])
    if len(source.nodes) > MAX_NODES:
        raise MarketValueError(
            source.field,
            f"{len(source.nodes)} nodes; at most {MAX_NODES} per import: import it in parts "
            "(attach_under) or publish an aggregated tree",
        )
    return source


def placed(nodes: list[NodeSpec], *, offset: int, attach_under: int | None) -> list[NodeSpec]:
    """The nodes with ``offset`` added to their ids and their roots under ``attach_under``.

    A parent id naming a node of the same import moves with it; any other non-zero parent id
    names a node already on the platform and stays as it is.
    """
    own = {node.node_id for node in nodes}
    if max(own) + offset > MAX_NODE_ID:
        raise MarketValueError(
            "node_id_offset", f"node {max(own)} + {offset} exceeds {MAX_NODE_ID}; use a smaller one"
        )

    def parent_of(parent_id: int) -> int:
        if parent_id == 0:
            return attach_under or 0
        return parent_id + offset if parent_id in own else parent_id

    return [
        _with_parent(replace(node, node_id=node.node_id + offset), parent_of(node.parent_id))
        for node in nodes
    ]


def _with_parent(node: NodeSpec, parent_id: int) -> NodeSpec:
    """Keep ``root`` meaning "no parent" when an import is attached under a node."""
    kind = node.kind
    if parent_id and kind == "root":
        kind = "bus"
    elif not parent_id and kind == "bus":
        kind = "root"
    return replace(node, parent_id=parent_id, kind=kind)


def _read(body: GridImport, given: str) -> SourceNodes:
    if given == "nodes":
        assert body.nodes is not None
        return SourceNodes("nodes", body.name or "node list", [_of_node_in(n) for n in body.nodes])
    if given == "network":
        assert body.network is not None
        net = _catalogue(body.network)
    elif given == "pandapower_json":
        assert body.pandapower_json is not None
        net = _from_json(body.pandapower_json)
    else:
        assert body.cim is not None
        given = "cim.files"
        net = _from_cim(body.cim)
    label = body.name or _model_name(net, default=body.network or "pandapower")
    return SourceNodes(given, label, _tree(net, given, body.exclude_disconnected))


def _of_node_in(node: NodeIn) -> NodeSpec:
    kind = node.kind or ("root" if node.parent_id == 0 else "bus")
    return NodeSpec(node.node_id, node.parent_id, node.name, kind, node.voltage_kv, node.x, node.y)


def _catalogue(name: str) -> pandapowerNet:
    try:
        return load_network(name)
    except UnknownNetworkError as error:
        raise MarketValueError("network", str(error).removeprefix("name: ")) from None


def _from_json(text: str) -> pandapowerNet:
    """Our own strict reader: pandapower's would import modules and read files it names."""
    return _checked(read_pandapower_json(text), "pandapower_json")


def _from_cim(cim: CimIn) -> pandapowerNet:
    names = [file.name for file in cim.files]
    if len(set(names)) != len(names):
        raise MarketValueError("cim.files", "file names must be unique")
    if sum(len(file.content) for file in cim.files) > MAX_SOURCE_CHARS:
        raise MarketValueError("cim.files", f"more than {MAX_SOURCE_CHARS} characters in all")
    with tempfile.TemporaryDirectory(prefix="flexledger-cim-") as folder:
        paths = [Path(folder) / file.name for file in cim.files]
        for path, file in zip(paths, cim.files, strict=True):
            path.write_text(file.content, encoding="utf-8")
        try:
            net = load_cim(paths, cgmes_version=cim.cgmes_version)
        except GridError:  # its text quotes the parser and our temporary paths: not passed on
            raise MarketValueError("cim.files", _cim_refusal(cim.cgmes_version)) from None
    return _checked(net, "cim.files")


def _cim_refusal(cgmes_version: str) -> str:
    if not cim_available():
        return "CIM/CGMES import is not available on this platform (pandapower's converter extra)"
    return f"could not be converted: give a complete, well-formed CGMES {cgmes_version} file set"


def _checked(net: object, field: str) -> pandapowerNet:
    if not isinstance(net, pandapowerNet) or len(net.bus) == 0:
        raise MarketValueError(field, "holds no pandapower network with buses")
    return net


def _tree(net: pandapowerNet, field: str, exclude_disconnected: bool) -> list[NodeSpec]:
    try:
        tree = node_tree(net, exclude_disconnected=exclude_disconnected)
    except GridError as error:  # our own messages, about buses and depth
        raise MarketValueError(field, f"is no publishable node tree: {error}") from None
    except (KeyError, IndexError, TypeError, ValueError):  # a converted model we cannot walk
        raise MarketValueError(field, "is no publishable node tree (inconsistent tables)") from None
    return [_of_tree_node(node) for node in tree]


def _of_tree_node(node: TreeNode) -> NodeSpec:
    return NodeSpec(
        node_id=node.node_id,
        parent_id=node.parent_id,
        name=node.name[:NAME_LENGTH],
        kind=node.kind,
        voltage_kv=node.voltage_kv,
        x=node.x,
        y=node.y,
        bus=node.bus,
    )


def _model_name(net: pandapowerNet, default: str) -> str:
    name = net.name if "name" in net else None
    return name[:NAME_LENGTH] if isinstance(name, str) and name.strip() else default
