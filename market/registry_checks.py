"""The platform's rules for a registry call a participant's wallet signed, checked on its
decoded arguments before the call is relayed.

They are the rules of the endpoints that build these calls, so a wallet cannot get past an
endpoint by signing a call of its own: a system operator registers only nodes the platform
holds for it, under the same parent; an FSP registers only assets the platform holds for it,
with the same meter point hash, capacities, technology and proposed node; a system operator
maps only assets whose current node lies in its licence area, to a node it operates; an
owner may lower its asset's capacities but not raise them past the platform's record, and
retire only its own assets. The registry contract checks what it can on chain too.
"""

from collections.abc import Callable, Sequence
from typing import Any

from eth_utils.address import to_checksum_address
from sqlmodel import Session, select

from market.assets import TECHNOLOGY_CODE, Technology, current_node, meter_point_hash
from market.db.models import Asset, GridNode, Organisation
from market.errors import ForbiddenError, MarketValueError
from market.grid_service import SYSTEM_OPERATORS, operates_at_or_above
from market.transactions import MAX_ASSET_BATCH, MAX_CONFIRM_BATCH, MAX_NODE_BATCH
from oracle.types import Address

FIELD = "raw_transaction"
ASSET_FIELDS = ("asset", "meterPointHash", "upW", "downW", "technology", "proposedNodeId")

Check = Callable[[Session, Organisation, dict[str, Any]], None]


def check_call(session: Session, sender: Address, function: str, args: dict[str, Any]) -> None:
    """Raise a 4xx error naming the argument unless the platform agrees with this call."""
    organisation = session.exec(select(Organisation).where(Organisation.address == sender)).first()
    if organisation is None:
        raise ForbiddenError(FIELD, f"{sender} has no organisation on the platform")
    CHECKS[function](session, organisation, args)


# --- nodes -------------------------------------------------------------------------------


def _register_node(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    _check_operator(organisation, args["operator"])
    _check_node(session, organisation, (args["nodeId"], "nodeId"), (args["parentId"], "parentId"))


def _register_nodes(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    node_ids, parent_ids = args["nodeIds"], args["parentIds"]
    _check_batch("nodeIds", len(node_ids), len(parent_ids), MAX_NODE_BATCH)
    _check_operator(organisation, args["operator"])
    for index, (node_id, parent_id) in enumerate(zip(node_ids, parent_ids, strict=True)):
        _check_node(
            session,
            organisation,
            (node_id, f"nodeIds.{index}"),
            (parent_id, f"parentIds.{index}"),
        )


def _check_operator(organisation: Organisation, operator: str) -> None:
    if to_checksum_address(operator) != organisation.address:
        raise ForbiddenError(f"{FIELD}.operator", "register nodes you operate yourself")


def _check_node(
    session: Session,
    organisation: Organisation,
    node: tuple[int, str],
    parent: tuple[int, str],
) -> None:
    (node_id, node_field), (parent_id, parent_field) = node, parent
    stored = session.get(GridNode, int(node_id))
    if stored is None:
        raise MarketValueError(
            f"{FIELD}.{node_field}",
            f"node {node_id} is not on the platform; publish it with POST /grid/import",
        )
    if stored.operator_id != organisation.id:
        raise ForbiddenError(
            f"{FIELD}.{node_field}", f"node {node_id} is published by another operator"
        )
    if stored.parent_id != int(parent_id):
        raise MarketValueError(
            f"{FIELD}.{parent_field}",
            f"node {node_id} hangs under {stored.parent_id} on the platform, not {parent_id}",
        )


# --- assets ------------------------------------------------------------------------------


def _register_asset(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    _check_registration(session, organisation, args, "")


def _register_assets(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    items: Sequence[Any] = args["assets"]
    _check_batch("assets", len(items), len(items), MAX_ASSET_BATCH)
    for index, item in enumerate(items):
        fields = item if isinstance(item, dict) else dict(zip(ASSET_FIELDS, item, strict=True))
        _check_registration(session, organisation, fields, f"assets.{index}.")


def _check_registration(
    session: Session, organisation: Organisation, args: dict[str, Any], prefix: str
) -> None:
    asset = _owned_asset(session, organisation, args["asset"], f"{prefix}asset")
    expected = {
        "meterPointHash": meter_point_hash(asset.meter_point_id),
        "upW": asset.up_w,
        "downW": asset.down_w,
        "technology": TECHNOLOGY_CODE[Technology(asset.technology)],
        "proposedNodeId": asset.proposed_node_id,
    }
    given = {**args, "meterPointHash": "0x" + bytes(args["meterPointHash"]).hex()}
    for name, value in expected.items():
        if given[name] != value:
            raise MarketValueError(
                f"{FIELD}.{prefix}{name}",
                f"is {given[name]}; the platform registered this asset with {value}",
            )


def _owned_asset(session: Session, organisation: Organisation, address: str, field: str) -> Asset:
    asset = _asset(session, address, field)
    if asset.owner_id != organisation.id:
        raise ForbiddenError(f"{FIELD}.{field}", f"asset {address} belongs to another FSP")
    return asset


def _asset(session: Session, address: str, field: str) -> Asset:
    asset = session.get(Asset, to_checksum_address(address))
    if asset is None:
        raise MarketValueError(
            f"{FIELD}.{field}",
            f"asset {address} is not on the platform; register it with POST /assets",
        )
    return asset


def _update_capacity(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    asset = _owned_asset(session, organisation, args["asset"], "asset")
    for name, recorded in (("upW", asset.up_w), ("downW", asset.down_w)):
        if int(args[name]) > recorded:
            raise MarketValueError(
                f"{FIELD}.{name}",
                f"{args[name]} W is above the prequalified {recorded} W; a higher capacity "
                "needs a new prequalification",
            )


def _retire(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    _owned_asset(session, organisation, args["asset"], "asset")


# --- node mappings -----------------------------------------------------------------------


def _confirm(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    _check_system_operator(organisation)
    _check_mapping(session, organisation, (args["asset"], "asset"), (args["nodeId"], "nodeId"))


def _confirm_many(session: Session, organisation: Organisation, args: dict[str, Any]) -> None:
    assets, node_ids = args["assets"], args["nodeIds"]
    _check_batch("assets", len(assets), len(node_ids), MAX_CONFIRM_BATCH)
    _check_system_operator(organisation)
    for index, (address, node_id) in enumerate(zip(assets, node_ids, strict=True)):
        _check_mapping(
            session, organisation, (address, f"assets.{index}"), (node_id, f"nodeIds.{index}")
        )


def _check_system_operator(organisation: Organisation) -> None:
    if organisation.kind not in SYSTEM_OPERATORS:
        raise ForbiddenError(FIELD, "only system operators map assets to nodes")


def _check_mapping(
    session: Session,
    organisation: Organisation,
    asset_arg: tuple[str, str],
    node_arg: tuple[int, str],
) -> None:
    (address, asset_field), (node_id, node_field) = asset_arg, node_arg
    asset = _asset(session, address, asset_field)
    located = current_node(asset)
    if not operates_at_or_above(session, organisation, located):
        raise ForbiddenError(
            f"{FIELD}.{asset_field}",
            f"asset {address} sits at node {located}, neither a node you operate nor below one",
        )
    node = session.get(GridNode, int(node_id))
    if node is None or node.operator_id != organisation.id:
        raise ForbiddenError(f"{FIELD}.{node_field}", f"you do not operate node {node_id}")


def _check_batch(field: str, size: int, other_size: int, most: int) -> None:
    if size != other_size:
        raise MarketValueError(f"{FIELD}.{field}", f"{size} items, but {other_size} of the other")
    if not 1 <= size <= most:
        raise MarketValueError(f"{FIELD}.{field}", f"{size} items; give 1 to {most} per call")


CHECKS: dict[str, Check] = {
    "registerNode": _register_node,
    "registerNodes": _register_nodes,
    "registerAsset": _register_asset,
    "registerAssets": _register_assets,
    "confirmAssetNode": _confirm,
    "confirmAssetNodes": _confirm_many,
    "updateAssetCapacity": _update_capacity,
    "retireAsset": _retire,
}
