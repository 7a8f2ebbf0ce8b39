"""Flexible assets: an FSP registers them, the system operator maps each to a grid node.

Registration stores the asset, proposes the on-chain node nearest to its coordinates
(:mod:`market.geometry`) and returns the unsigned ``GridRegistry.registerAsset`` call for the
FSP's wallet. The asset's on-chain id is a fresh random address that no key controls (it
only names the asset). The chain sees the keccak256 of the meter point id, never the id.
The system operator that operates the chosen node confirms it with ``confirmAssetNode``
(its own wallet). :mod:`market.sync` moves the status REGISTERED -> ON_CHAIN -> MAPPED as
the events are indexed.

Prequalified capacity: ``up`` is how far the asset can move the grid's balance upward (less
consumption or more generation), ``down`` the other way; kW on the wire, integer W on chain.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market.db.models import Asset, AssetStatus, GridNode, Organisation
from market.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    MarketValueError,
    NotFoundError,
)
from market.geometry import Place, nearest
from market.grid_service import ancestry, get_node, operates_at_or_above
from market.transactions import WALK_GAS, batch_gas, unsigned_call
from oracle.types import Address

T = TypeVar("T")

MAX_KW = 1_000_000.0  # 1 GW; the chain's uint32 W would allow 4.29 GW
# EAN-18 (GS1 metering point id: 18 digits) or an ENTSO-E EIC (16 characters: 2-digit
# issuing office, object type letter, 12 characters, check character).
METER_POINT_PATTERN = r"^(?:[0-9]{18}|[0-9]{2}[A-Z][A-Z0-9-]{12}[A-Z0-9])$"

if TYPE_CHECKING:  # market.platform imports the sync, which imports these modules
    from market.platform import Platform


class Technology(StrEnum):
    BATTERY = "battery"
    EV_CHARGER = "ev_charger"
    HEAT_PUMP = "heat_pump"
    PV = "pv"
    CHP = "chp"
    OTHER = "other"


# The uint8 on chain; battery, EV charger and heat pump as flexledger.scenario_market uses.
TECHNOLOGY_CODE: dict[Technology, int] = {
    Technology.OTHER: 0,
    Technology.BATTERY: 1,
    Technology.EV_CHARGER: 2,
    Technology.HEAT_PUMP: 3,
    Technology.PV: 4,
    Technology.CHP: 5,
}


class AssetRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, description="e.g. home battery, Elm St 4")
    technology: Technology
    meter_point_id: str = Field(
        pattern=METER_POINT_PATTERN,
        description="EAN-18 (18 digits) or EIC (16 characters, upper case). Stays off chain.",
    )
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False, description="WGS 84 degrees.")
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False, description="WGS 84 degrees.")
    prequalified_up_kw: float = Field(
        default=0.0, ge=0, le=MAX_KW, allow_inf_nan=False, description="kW upward (see docs)."
    )
    prequalified_down_kw: float = Field(
        default=0.0, ge=0, le=MAX_KW, allow_inf_nan=False, description="kW downward."
    )


@dataclass(frozen=True, slots=True)
class AssetScope:
    """What one viewer may see: everything (``owner_id`` and ``area`` both None), one FSP's
    own assets, or the assets proposed or mapped in a licence area (node ids)."""

    owner_id: str | None = None
    area: frozenset[int] | None = None

    def covers(self, asset: Asset) -> bool:
        if self.owner_id is not None:
            return asset.owner_id == self.owner_id
        if self.area is not None:
            return asset.proposed_node_id in self.area or asset.node_id in self.area
        return True


@dataclass(frozen=True, slots=True)
class NodeProposal:
    asset: Asset
    proposed: GridNode
    nearest: list[tuple[GridNode, float]]  # on-chain nodes nearest to the asset now, km


def meter_point_hash(meter_point_id: str) -> str:
    """What the chain stores for a meter point: keccak256 of its id (UTF-8), 0x-hex."""
    return "0x" + keccak(text=meter_point_id).hex()


def new_asset_address() -> Address:
    return Address(to_checksum_address(secrets.token_bytes(20)))


def register(
    session: Session, platform: "Platform", owner: Organisation, body: AssetRegistration
) -> tuple[Asset, dict[str, Any]]:
    """Store an FSP's asset; returns it and the registerAsset call its wallet must send."""
    asset = _new_asset(session, owner, body, _on_chain_places(session))
    transaction = unsigned_call(
        platform, Address(owner.address), "GridRegistry", "registerAsset", _register_args(asset)
    )
    _store(session, [asset])
    return asset, transaction


def register_many(
    session: Session, platform: "Platform", owner: Organisation, bodies: list[AssetRegistration]
) -> tuple[list[Asset], dict[str, Any]]:
    """Store up to MAX_ASSET_BATCH assets of an FSP at once (all or none); returns them and
    the one registerAssets call its wallet must send. Errors name ``assets.<i>.<field>``."""
    places = _on_chain_places(session)
    assets: list[Asset] = []
    seen: set[str] = set()
    for index, body in enumerate(bodies):
        if body.meter_point_id in seen:
            raise ConflictError(
                f"assets.{index}.meter_point_id",
                f"meter point {body.meter_point_id} appears twice in the batch",
            )
        seen.add(body.meter_point_id)
        assets.append(_prefixed(f"assets.{index}.", _new_asset, session, owner, body, places))
    transaction = unsigned_call(
        platform,
        Address(owner.address),
        "GridRegistry",
        "registerAssets",
        ([_register_args(asset) for asset in assets],),
        gas=batch_gas("registerAssets", len(assets)),
    )
    _store(session, assets)
    return assets, transaction


def _new_asset(
    session: Session, owner: Organisation, body: AssetRegistration, places: list[Place]
) -> Asset:
    up_w, down_w = _capacity_w(body)
    _check_meter_point_free(session, body.meter_point_id)
    return Asset(
        id=new_asset_address(),
        owner_id=owner.id,
        name=body.name,
        technology=body.technology.value,
        meter_point_id=body.meter_point_id,
        latitude=body.latitude,
        longitude=body.longitude,
        up_w=up_w,
        down_w=down_w,
        proposed_node_id=propose_node(places, body.latitude, body.longitude),
    )


def _prefixed(prefix: str, build: Callable[..., T], *args: Any) -> T:
    """Run ``build``; a field error it raises names the field under ``prefix``."""
    try:
        return build(*args)
    except FieldError as error:
        raise type(error)(prefix + error.field, error.message) from None


def current_node(asset: Asset) -> int:
    """Where the asset sits now: its confirmed node, or its proposed node until confirmed.
    The chain checks a new mapping against this node, and so does the platform."""
    return asset.node_id or asset.proposed_node_id


def propose_node(places: list[Place], latitude: float, longitude: float) -> int:
    """The node to propose for an asset: the nearest of ``places`` (see geometry.nearest)."""
    found = nearest(places, latitude, longitude, count=1)
    if not found:
        raise ConflictError(
            "latitude",
            "no grid node with coordinates is on chain yet to propose; "
            "register the asset once its system operator has published its grid",
        )
    return found[0][0].node_id


def get(session: Session, scope: AssetScope, asset_id: str) -> Asset:
    """The asset if the viewer may see it (a hidden asset reads as missing)."""
    asset = session.get(Asset, to_checksum_address(asset_id))
    if asset is None or not scope.covers(asset):
        raise NotFoundError("asset_id", f"no asset {asset_id} that you may see")
    return asset


def visible(
    session: Session,
    scope: AssetScope,
    *,
    status: AssetStatus | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[Asset]:
    query = select(Asset)
    if scope.owner_id is not None:
        query = query.where(Asset.owner_id == scope.owner_id)
    if status is not None:
        query = query.where(Asset.status == status)
    assets = session.exec(query.order_by(col(Asset.created_at), col(Asset.id))).all()
    return [asset for asset in assets if scope.covers(asset)][offset : offset + limit]


def node_proposal(session: Session, scope: AssetScope, asset_id: str, count: int) -> NodeProposal:
    asset = get(session, scope, asset_id)
    places = nearest(_on_chain_places(session), asset.latitude, asset.longitude, count)
    return NodeProposal(
        asset,
        get_node(session, asset.proposed_node_id),
        [(get_node(session, place.node_id), km) for place, km in places],
    )


def confirm_node(
    session: Session,
    platform: "Platform",
    operator: Organisation,
    asset_id: str,
    node_id: int | None,
) -> tuple[Asset, dict[str, Any]]:
    """The confirmAssetNode call for the system operator's wallet: the proposed node, or
    ``node_id`` instead; the node must be one the caller operates (the chain checks it too)."""
    asset, chosen = _mapping(session, operator, asset_id, node_id)
    transaction = unsigned_call(
        platform,
        Address(operator.address),
        "GridRegistry",
        "confirmAssetNode",
        (Address(asset.id), chosen.node_id),
    )
    return asset, transaction


def confirm_nodes(
    session: Session,
    platform: "Platform",
    operator: Organisation,
    choices: list[tuple[str, int | None]],
) -> tuple[list[Asset], dict[str, Any]]:
    """One confirmAssetNodes call for up to MAX_CONFIRM_BATCH (asset id, node id or None for
    the proposed node) pairs; errors name ``assets.<i>.asset_id`` or ``assets.<i>.node_id``."""
    mapped = [
        _prefixed(f"assets.{index}.", _mapping, session, operator, asset_id, node_id)
        for index, (asset_id, node_id) in enumerate(choices)
    ]
    transaction = unsigned_call(
        platform,
        Address(operator.address),
        "GridRegistry",
        "confirmAssetNodes",
        ([Address(asset.id) for asset, _ in mapped], [node.node_id for _, node in mapped]),
        gas=batch_gas("confirmAssetNodes", len(mapped), _walk_gas(session, operator, mapped)),
    )
    return [asset for asset, _ in mapped], transaction


def _walk_gas(
    session: Session, operator: Organisation, mapped: list[tuple[Asset, GridNode]]
) -> int:
    """The gas the chain spends walking up from each asset's current node to one the caller
    operates (none when it operates that node, or maps the asset to where it sits)."""
    levels = 0
    for asset, node in mapped:
        located = current_node(asset)
        if located != node.node_id:
            path = ancestry(session, located)
            levels += next(
                (i for i, above in enumerate(path) if above.operator_id == operator.id), len(path)
            )
    return WALK_GAS * levels


def _mapping(
    session: Session, operator: Organisation, asset_id: str, node_id: int | None
) -> tuple[Asset, GridNode]:
    asset = session.get(Asset, to_checksum_address(asset_id))
    if asset is None:
        raise NotFoundError("asset_id", f"no asset {asset_id}")
    _check_confirmable(session, operator, asset)
    return asset, _confirmable_node(session, operator, node_id or asset.proposed_node_id)


def _capacity_w(body: AssetRegistration) -> tuple[int, int]:
    up_w, down_w = round(body.prequalified_up_kw * 1000), round(body.prequalified_down_kw * 1000)
    if up_w <= 0 and down_w <= 0:
        raise MarketValueError(
            "prequalified_up_kw",
            "give at least 0.001 kW of prequalified_up_kw or prequalified_down_kw",
        )
    return up_w, down_w


def _check_meter_point_free(session: Session, meter_point_id: str) -> None:
    taken = session.exec(select(Asset.id).where(Asset.meter_point_id == meter_point_id)).first()
    if taken is not None:
        raise ConflictError("meter_point_id", f"meter point {meter_point_id} is already registered")


def _on_chain_places(session: Session) -> list[Place]:
    query = (
        select(GridNode.node_id, GridNode.voltage_kv, GridNode.x, GridNode.y)
        .where(col(GridNode.on_chain).is_(True))
        .where(col(GridNode.x).is_not(None))
        .where(col(GridNode.y).is_not(None))
    )
    return [
        Place(node_id, voltage_kv, float(x), float(y))
        for node_id, voltage_kv, x, y in session.exec(query).all()
        if x is not None and y is not None
    ]


def _register_args(asset: Asset) -> tuple[Any, ...]:
    return (
        Address(asset.id),
        bytes.fromhex(meter_point_hash(asset.meter_point_id)[2:]),
        asset.up_w,
        asset.down_w,
        TECHNOLOGY_CODE[Technology(asset.technology)],
        asset.proposed_node_id,
    )


def _store(session: Session, assets: list[Asset]) -> None:
    session.add_all(assets)
    try:
        session.commit()
    except IntegrityError:  # another request registered the same meter point just now
        session.rollback()
        raise ConflictError(
            "meter_point_id", "a meter point of this request was registered just now; retry"
        ) from None
    for asset in assets:
        session.refresh(asset)


def _check_confirmable(session: Session, operator: Organisation, asset: Asset) -> None:
    if asset.status not in (AssetStatus.ON_CHAIN, AssetStatus.MAPPED):
        raise ConflictError(
            "asset_id", f"asset is {asset.status}; it can be mapped once it is on chain"
        )
    located = current_node(asset)  # once confirmed, the proposal no longer counts
    if not operates_at_or_above(session, operator, located):
        raise ForbiddenError(
            "asset_id",
            f"the asset sits at node {located}, which is neither a node you operate nor below "
            "one; only the operator of its grid maps it",
        )


def _confirmable_node(session: Session, operator: Organisation, node_id: int) -> GridNode:
    node = get_node(session, node_id)
    if node.operator_id != operator.id:
        raise ForbiddenError(
            "node_id",
            f"node {node_id} is operated by another system operator; the chain accepts a "
            "node's mapping only from its operator",
        )
    if not node.on_chain:
        raise ConflictError("node_id", f"node {node_id} is not on chain yet; relay it first")
    return node
