"""Registry events checked against the platform's records before the sync applies them.

The chain is the source of truth for what is registered, but a registry event the
platform's own rules would not have allowed (the contract and the relay refuse them, but a
wallet may call the contract directly, and an older deployment checks less) must not move
the platform: an asset mapped by an operator outside its licence area, a capacity above the
platform's record, a node with another parent or operator, an asset or node the platform
does not know. Each check returns the reason to flag the event (:class:`ChainFlag`), or
``None`` after applying it.
"""

from collections.abc import Callable
from typing import Any

from eth_utils.address import to_checksum_address
from sqlmodel import Session, select

from market.assets import TECHNOLOGY_CODE, Technology, current_node, meter_point_hash
from market.db.models import Asset, AssetStatus, GridNode, Organisation
from market.grid_service import SYSTEM_OPERATORS, operates_at_or_above

Checked = Callable[[Session, dict[str, Any]], str | None]


def node_registered(session: Session, args: dict[str, Any]) -> str | None:
    node_id, parent_id = int(args["nodeId"]), int(args["parentId"])
    node = session.get(GridNode, node_id)
    if node is None:
        return f"node {node_id} is not on the platform"
    if node.parent_id != parent_id:
        return f"node {node_id} hangs under {parent_id} on chain, under {node.parent_id} here"
    operator = session.get(Organisation, node.operator_id)
    if operator is None or operator.address != _address(args["operator"]):
        return f"node {node_id} is operated by {args['operator']} on chain, by another here"
    node.on_chain = True
    session.add(node)
    return None


def asset_registered(session: Session, args: dict[str, Any]) -> str | None:
    asset = session.get(Asset, _address(args["asset"]))
    if asset is None:
        return f"asset {args['asset']} is not on the platform"
    mismatch = _registration_mismatch(session, asset, args)
    if mismatch is not None:
        return f"asset {asset.id} registered on chain with {mismatch}"
    if asset.status == AssetStatus.REGISTERED:
        asset.status = AssetStatus.ON_CHAIN
        session.add(asset)
    return None


def _registration_mismatch(session: Session, asset: Asset, args: dict[str, Any]) -> str | None:
    owner = session.get(Organisation, asset.owner_id)
    expected = {
        "owner": None if owner is None else owner.address,
        "meterPointHash": meter_point_hash(asset.meter_point_id),
        "upW": asset.up_w,
        "downW": asset.down_w,
        "technology": TECHNOLOGY_CODE[Technology(asset.technology)],
        "proposedNodeId": asset.proposed_node_id,
    }
    given = {**args, "owner": _address(args["owner"]), "meterPointHash": args["meterPointHash"]}
    for name, value in expected.items():
        if given[name] != value:
            return f"{name} {given[name]}, the platform's record has {value}"
    return None


def asset_node_confirmed(session: Session, args: dict[str, Any]) -> str | None:
    asset = session.get(Asset, _address(args["asset"]))
    node_id = int(args["nodeId"])
    if asset is None:
        return f"asset {args['asset']} is not on the platform"
    node = session.get(GridNode, node_id)
    if node is None:
        return f"node {node_id} is not on the platform"
    confirmer = session.exec(
        select(Organisation).where(Organisation.address == _address(args["confirmedBy"]))
    ).first()
    if confirmer is None or confirmer.kind not in SYSTEM_OPERATORS:
        return f"{args['confirmedBy']} is no system operator on the platform"
    if node.operator_id != confirmer.id:
        return f"node {node_id} is not operated by {confirmer.address} on the platform"
    located = current_node(asset)
    if not operates_at_or_above(session, confirmer, located):
        return (
            f"asset {asset.id} sits at node {located}, outside the area of {confirmer.address} "
            "(no node it operates at or above)"
        )
    asset.node_id = node_id
    asset.status = AssetStatus.MAPPED
    session.add(asset)
    return None


def asset_capacity_updated(session: Session, args: dict[str, Any]) -> str | None:
    asset = session.get(Asset, _address(args["asset"]))
    if asset is None:
        return f"asset {args['asset']} is not on the platform"
    up_w, down_w = int(args["upW"]), int(args["downW"])
    if up_w > asset.up_w or down_w > asset.down_w:
        return (
            f"asset {asset.id} raised to {up_w} W up / {down_w} W down on chain, above the "
            f"prequalified {asset.up_w} / {asset.down_w} W"
        )
    asset.up_w, asset.down_w = up_w, down_w
    session.add(asset)
    return None


def asset_retired(session: Session, args: dict[str, Any]) -> str | None:
    asset = session.get(Asset, _address(args["asset"]))
    if asset is None:
        return f"asset {args['asset']} is not on the platform"
    owner = session.get(Organisation, asset.owner_id)
    if owner is None or owner.address != _address(args["owner"]):
        return f"asset {asset.id} retired by {args['owner']}, not its owner on the platform"
    asset.status = AssetStatus.RETIRED
    session.add(asset)
    return None


def _address(value: Any) -> str:
    return to_checksum_address(str(value))


CHECKED: dict[str, Checked] = {
    "NodeRegistered": node_registered,
    "AssetRegistered": asset_registered,
    "AssetNodeConfirmed": asset_node_confirmed,
    "AssetCapacityUpdated": asset_capacity_updated,
    "AssetRetired": asset_retired,
}
