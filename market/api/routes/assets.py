"""Flexible assets: registration by FSPs, node mapping by system operators, reads."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from market import assets
from market.api.deps import Participant, ParticipantDep, PlatformDep, SessionDep
from market.api.links import ASSET_REGISTERED
from market.api.routes.grid import NodeOut, UnsignedTransaction
from market.assets import AssetRegistration, AssetScope
from market.db.models import Asset, AssetStatus, OrganisationKind
from market.grid_service import area_node_ids
from market.grid_sources import MAX_NODE_ID
from market.transactions import MAX_ASSET_BATCH, MAX_CONFIRM_BATCH
from oracle.types import Role

router = APIRouter(prefix="/assets", tags=["assets"])

AssetIdPath = Annotated[
    str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="The asset's on-chain address.")
]


class AssetOut(BaseModel):
    id: str = Field(description="The asset's on-chain address.")
    owner_id: str
    name: str
    technology: str
    meter_point_id: str
    latitude: float
    longitude: float
    prequalified_up_kw: float
    prequalified_down_kw: float
    proposed_node_id: int
    node_id: int | None = Field(description="The node its system operator confirmed.")
    status: AssetStatus

    @classmethod
    def of(cls, asset: Asset) -> "AssetOut":
        return cls(
            id=asset.id,
            owner_id=asset.owner_id,
            name=asset.name,
            technology=asset.technology,
            meter_point_id=asset.meter_point_id,
            latitude=asset.latitude,
            longitude=asset.longitude,
            prequalified_up_kw=asset.up_w / 1000,
            prequalified_down_kw=asset.down_w / 1000,
            proposed_node_id=asset.proposed_node_id,
            node_id=asset.node_id,
            status=asset.status,
        )


class AssetWriteOut(BaseModel):
    asset: AssetOut
    transaction: UnsignedTransaction = Field(description="Sign it and relay it.")


class AssetBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assets: list[AssetRegistration] = Field(
        min_length=1,
        max_length=MAX_ASSET_BATCH,
        description=f"1 to {MAX_ASSET_BATCH} assets, registered all or none.",
    )


class AssetBatchOut(BaseModel):
    assets: list[AssetOut] = Field(description="In the order given.")
    transaction: UnsignedTransaction = Field(
        description="One registerAssets call for all of them: sign it and relay it."
    )


class NodeMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asset_id: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="The asset's address.")
    node_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_NODE_ID,
        description="A node you operate; leave out to confirm the proposed node.",
    )


class NodeMappings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assets: list[NodeMapping] = Field(
        min_length=1,
        max_length=MAX_CONFIRM_BATCH,
        description=f"1 to {MAX_CONFIRM_BATCH} assets to map, all or none.",
    )


class NodeChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_NODE_ID,
        description="A node you operate; leave out to confirm the proposed node.",
    )


class NearNode(BaseModel):
    node: NodeOut
    distance_km: float = Field(description="From the asset (nominal for schematic grids).")


class NodeProposalOut(BaseModel):
    asset_id: str
    status: AssetStatus
    proposed_node: NodeOut
    confirmed_node_id: int | None
    nearest: list[NearNode] = Field(description="On-chain nodes nearest to the asset now.")


def _scope(participant: Participant, session: Session) -> AssetScope:
    """The market operator and auditors see all assets, an FSP its own, a system operator
    those proposed or mapped in its licence area."""
    if participant.is_operator or participant.holds(Role.AUDITOR):
        return AssetScope()
    organisation = participant.require(Role.FSP, Role.DSO, Role.TSO)
    if organisation.kind == OrganisationKind.FSP:
        return AssetScope(owner_id=organisation.id)
    return AssetScope(area=frozenset(area_node_ids(session, organisation)))


@router.post(
    "",
    status_code=201,
    summary="FSP: register an asset; returns registerAsset to sign",
    responses=ASSET_REGISTERED,
)
def register(
    body: AssetRegistration,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
) -> AssetWriteOut:
    owner = participant.require(Role.FSP)
    asset, transaction = assets.register(session, platform, owner, body)
    return AssetWriteOut(asset=AssetOut.of(asset), transaction=UnsignedTransaction.of(transaction))


@router.post(
    "/batch",
    status_code=201,
    summary=f"FSP: register up to {MAX_ASSET_BATCH} assets; returns one registerAssets to sign",
)
def register_batch(
    body: AssetBatch,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
) -> AssetBatchOut:
    owner = participant.require(Role.FSP)
    stored, transaction = assets.register_many(session, platform, owner, body.assets)
    return AssetBatchOut(
        assets=[AssetOut.of(asset) for asset in stored],
        transaction=UnsignedTransaction.of(transaction),
    )


@router.post(
    "/nodes",
    summary=f"DSO/TSO: map up to {MAX_CONFIRM_BATCH} assets to nodes you operate; "
    "returns one confirmAssetNodes to sign",
)
def confirm_nodes(
    body: NodeMappings,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
) -> AssetBatchOut:
    operator = participant.require(Role.DSO, Role.TSO)
    choices = [(mapping.asset_id, mapping.node_id) for mapping in body.assets]
    mapped, transaction = assets.confirm_nodes(session, platform, operator, choices)
    return AssetBatchOut(
        assets=[AssetOut.of(asset) for asset in mapped],
        transaction=UnsignedTransaction.of(transaction),
    )


@router.get("", summary="Assets you may see (FSP: own; DSO/TSO: licence area; auditor: all)")
def list_assets(
    participant: ParticipantDep,
    session: SessionDep,
    status: AssetStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AssetOut]:
    scope = _scope(participant, session)
    found = assets.visible(session, scope, status=status, limit=limit, offset=offset)
    return [AssetOut.of(asset) for asset in found]


@router.get("/{asset_id}", summary="One asset")
def get_asset(asset_id: AssetIdPath, participant: ParticipantDep, session: SessionDep) -> AssetOut:
    return AssetOut.of(assets.get(session, _scope(participant, session), asset_id))


@router.get("/{asset_id}/node-proposal", summary="The proposed node and the nearest nodes now")
def node_proposal(
    asset_id: AssetIdPath,
    participant: ParticipantDep,
    session: SessionDep,
    count: Annotated[int, Query(ge=1, le=50, description="How many nearest nodes.")] = 5,
) -> NodeProposalOut:
    proposal = assets.node_proposal(session, _scope(participant, session), asset_id, count)
    return NodeProposalOut(
        asset_id=proposal.asset.id,
        status=proposal.asset.status,
        proposed_node=NodeOut.of(proposal.proposed),
        confirmed_node_id=proposal.asset.node_id,
        nearest=[NearNode(node=NodeOut.of(node), distance_km=km) for node, km in proposal.nearest],
    )


@router.post(
    "/{asset_id}/node",
    summary="DSO/TSO: map the asset to a node you operate; returns confirmAssetNode to sign",
)
def confirm_node(
    asset_id: AssetIdPath,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
    body: NodeChoice | None = None,
) -> AssetWriteOut:
    operator = participant.require(Role.DSO, Role.TSO)
    node_id = None if body is None else body.node_id
    asset, transaction = assets.confirm_node(session, platform, operator, asset_id, node_id)
    return AssetWriteOut(asset=AssetOut.of(asset), transaction=UnsignedTransaction.of(transaction))
