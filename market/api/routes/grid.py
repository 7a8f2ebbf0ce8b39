"""Grid node structures: the network catalogue, imports by system operators, node reads."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from grid.networks import NETWORKS
from market import grid_service
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.db.models import GridNode
from market.grid_sources import MAX_NODE_ID, GridImport
from oracle.types import Role

router = APIRouter(prefix="/grid", tags=["grid"])

NodeIdPath = Annotated[int, Path(ge=1, le=MAX_NODE_ID, description="A grid node id.")]


class UnsignedTransaction(BaseModel):
    """A transaction for the participant's wallet to sign (eth_signTransaction) and post to
    POST /api/v1/transactions; fields as JSON-RPC names them."""

    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(alias="from")
    to: str
    data: str
    nonce: int
    gas: int
    chain_id: int = Field(alias="chainId")
    value: int
    max_fee_per_gas: int = Field(alias="maxFeePerGas")
    max_priority_fee_per_gas: int = Field(alias="maxPriorityFeePerGas")
    type: int

    @classmethod
    def of(cls, transaction: dict[str, Any]) -> "UnsignedTransaction":
        return cls.model_validate(transaction)


class NodeOut(BaseModel):
    node_id: int
    parent_id: int = Field(description="0 for a root.")
    operator_id: str = Field(description="The organisation that operates the node.")
    name: str
    kind: str
    voltage_kv: float
    x: float | None = Field(description="Longitude, or the model's schematic x.")
    y: float | None = Field(description="Latitude, or the model's schematic y.")
    network: str = Field(description="Where the node was imported from.")
    bus: int | None = Field(description="The pandapower bus index, for pandapower imports.")
    on_chain: bool = Field(description="Its registerNode transaction is confirmed on chain.")

    @classmethod
    def of(cls, node: GridNode) -> "NodeOut":
        return cls.model_validate(node, from_attributes=True)


class NodeDetailOut(NodeOut):
    children: list[NodeOut]


class NetworkOut(BaseModel):
    name: str
    description: str


class GridImportOut(BaseModel):
    network: str
    nodes: list[NodeOut] = Field(description="Stored nodes, parents before children.")
    transactions: list[UnsignedTransaction] = Field(
        description="registerNodes batches (up to 100 nodes each, parents first) with "
        "consecutive nonces: sign and relay them in this order."
    )


@router.get("/networks", summary="The catalogue of reference networks a grid import may name")
def networks(participant: ParticipantDep) -> list[NetworkOut]:
    return [NetworkOut(name=name, description=text) for name, text in sorted(NETWORKS.items())]


@router.post("/import", status_code=201, summary="DSO/TSO: publish your grid node structure")
def import_grid(
    body: GridImport, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> GridImportOut:
    organisation = participant.require(Role.DSO, Role.TSO)
    result = grid_service.import_grid(session, platform, organisation, body)
    return GridImportOut(
        network=result.network,
        nodes=[NodeOut.of(node) for node in result.nodes],
        transactions=[UnsignedTransaction.of(tx) for tx in result.transactions],
    )


@router.get("/nodes", summary="Published grid nodes (anyone signed in)")
def nodes(
    participant: ParticipantDep,
    session: SessionDep,
    operator_id: Annotated[str | None, Query(max_length=36)] = None,
    network: Annotated[str | None, Query(max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[NodeOut]:
    found = grid_service.list_nodes(
        session, operator_id=operator_id, network=network, limit=limit, offset=offset
    )
    return [NodeOut.of(node) for node in found]


@router.get("/nodes/{node_id}", summary="One grid node with its children")
def node(node_id: NodeIdPath, participant: ParticipantDep, session: SessionDep) -> NodeDetailOut:
    found = grid_service.get_node(session, node_id)
    below = [NodeOut.of(child) for child in grid_service.children(session, node_id)]
    return NodeDetailOut(**NodeOut.of(found).model_dump(), children=below)
