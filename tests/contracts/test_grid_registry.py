"""GridRegistry: the node tree, its depth cap, and asset registration and confirmation."""

from __future__ import annotations

from eth_utils import keccak, to_checksum_address

from oracle.types import Role
from tests.contracts.world import (
    ASSET_BATTERY,
    NODE_DSO,
    NODE_DSO_LEFT,
    NODE_DSO_RIGHT,
    NODE_OTHER_ROOT,
    NODE_TSO_ROOT,
    World,
    events,
    reverts,
    send,
)

ZERO = "0x" + "00" * 20
NEW_ASSET = to_checksum_address("0x" + "b7" * 20)
METER = keccak(text="meter:EAN-871687140000000001")


def test_register_node_by_operator_for_itself(world: World) -> None:
    receipt = send(world.grid.functions.registerNode(20, NODE_DSO, world.dso.address), world.dso)
    assert events(world.grid, receipt, "NodeRegistered") == [
        {
            "nodeId": 20,
            "parentId": NODE_DSO,
            "operator": world.dso.address,
            "depth": 3,
            "registeredBy": world.dso.address,
        }
    ]
    assert world.grid.functions.node(20).call() == (world.dso.address, NODE_DSO, 3)
    assert world.grid.functions.node(NODE_TSO_ROOT).call() == (world.tso.address, 0, 1)


def test_market_operator_registers_for_anyone(world: World) -> None:
    send(world.grid.functions.registerNode(21, 0, world.dso2.address), world.operator)
    assert world.grid.functions.node(21).call()[0] == world.dso2.address


def test_register_node_rejections(world: World) -> None:
    g = world.grid.functions
    with reverts(world.grid, "NotSystemOperator", world.fsp.address):
        send(g.registerNode(30, 0, world.fsp.address), world.fsp)
    with reverts(world.grid, "OperatorNotCaller", world.dso2.address, world.dso.address):
        send(g.registerNode(30, 0, world.dso2.address), world.dso)
    with reverts(world.grid, "ZeroAddress", ZERO):
        send(g.registerNode(30, 0, ZERO), world.operator)
    with reverts(world.grid, "NodeExists", NODE_DSO):
        send(g.registerNode(NODE_DSO, 0, world.dso.address), world.dso)
    with reverts(world.grid, "NodeExists", 0):
        send(g.registerNode(0, 0, world.dso.address), world.dso)
    with reverts(world.grid, "UnknownNode", 999):
        send(g.registerNode(30, 999, world.dso.address), world.dso)
    with reverts(world.grid, "UnknownNode", 999):
        g.node(999).call()


def test_depth_is_capped(world: World) -> None:
    g = world.grid.functions
    assert g.MAX_DEPTH().call() == 32
    parent = NODE_DSO_LEFT  # depth 3
    for node_id in range(100, 129):  # depths 4..32
        send(g.registerNode(node_id, parent, world.dso.address), world.dso)
        parent = node_id
    assert g.node(128).call()[2] == 32
    with reverts(world.grid, "NodeTooDeep", 129, 33):
        send(g.registerNode(129, 128, world.dso.address), world.dso)
    assert g.isAtOrBelow(128, NODE_TSO_ROOT).call()  # walks all 32 levels
    assert g.isAtOrBelow(128, 100).call()
    assert not g.isAtOrBelow(100, 128).call()


def test_is_at_or_below(world: World) -> None:
    below = world.grid.functions.isAtOrBelow
    assert below(NODE_DSO_LEFT, NODE_DSO_LEFT).call()
    assert below(NODE_DSO_LEFT, NODE_DSO).call()
    assert below(NODE_DSO_LEFT, NODE_TSO_ROOT).call()
    assert not below(NODE_DSO_LEFT, NODE_DSO_RIGHT).call()
    assert not below(NODE_DSO, NODE_DSO_LEFT).call()
    assert not below(NODE_DSO_LEFT, NODE_OTHER_ROOT).call()
    assert not below(NODE_DSO_LEFT, 0).call()
    assert not below(777, 777).call()
    assert not below(777, NODE_DSO).call()


def test_register_asset(world: World) -> None:
    g = world.grid.functions
    receipt = send(g.registerAsset(NEW_ASSET, METER, 3000, 4000, 7, NODE_DSO_RIGHT), world.fsp2)
    assert events(world.grid, receipt, "AssetRegistered") == [
        {
            "asset": NEW_ASSET,
            "owner": world.fsp2.address,
            "meterPointHash": METER,
            "upW": 3000,
            "downW": 4000,
            "technology": 7,
            "proposedNodeId": NODE_DSO_RIGHT,
        }
    ]
    assert g.asset(NEW_ASSET).call() == (
        world.fsp2.address,
        0,
        7,
        False,
        3000,
        4000,
        NODE_DSO_RIGHT,
        METER,
    )
    assert g.assetPlacement(NEW_ASSET).call() == [world.fsp2.address, 0, False]


def test_register_asset_rejections(world: World) -> None:
    g = world.grid.functions
    with reverts(world.grid, "MissingRole", world.dso.address, int(Role.FSP)):
        send(g.registerAsset(NEW_ASSET, METER, 1, 1, 1, NODE_DSO), world.dso)
    with reverts(world.grid, "ZeroAddress", ZERO):
        send(g.registerAsset(ZERO, METER, 1, 1, 1, NODE_DSO), world.fsp)
    with reverts(world.grid, "AssetExists", ASSET_BATTERY):
        send(g.registerAsset(ASSET_BATTERY, METER, 1, 1, 1, NODE_DSO), world.fsp2)
    with reverts(world.grid, "UnknownNode", 555):
        send(g.registerAsset(NEW_ASSET, METER, 1, 1, 1, 555), world.fsp)
    with reverts(world.grid, "UnknownAsset", NEW_ASSET):
        g.asset(NEW_ASSET).call()
    assert g.assetPlacement(NEW_ASSET).call() == [ZERO, 0, False]


def test_confirm_asset_node_by_node_operator_only(world: World) -> None:
    g = world.grid.functions
    send(g.registerAsset(NEW_ASSET, METER, 1, 1, 1, NODE_DSO_RIGHT), world.fsp2)
    with reverts(world.grid, "NotNodeOperator", NODE_DSO_RIGHT, world.dso2.address):
        send(g.confirmAssetNode(NEW_ASSET, NODE_DSO_RIGHT), world.dso2)
    with reverts(world.grid, "UnknownNode", 555):
        send(g.confirmAssetNode(NEW_ASSET, 555), world.dso)
    unknown = to_checksum_address("0x" + "c1" * 20)
    with reverts(world.grid, "UnknownAsset", unknown):
        send(g.confirmAssetNode(unknown, NODE_DSO_RIGHT), world.dso)
    receipt = send(g.confirmAssetNode(NEW_ASSET, NODE_DSO_LEFT), world.dso)
    assert events(world.grid, receipt, "AssetNodeConfirmed") == [
        {"asset": NEW_ASSET, "nodeId": NODE_DSO_LEFT, "confirmedBy": world.dso.address}
    ]
    assert g.assetPlacement(NEW_ASSET).call() == [world.fsp2.address, NODE_DSO_LEFT, False]


def test_capacity_update_changes_nothing_else(world: World) -> None:
    g = world.grid.functions
    before = g.asset(ASSET_BATTERY).call()
    receipt = send(g.updateAssetCapacity(ASSET_BATTERY, 111, 222), world.fsp)
    assert events(world.grid, receipt, "AssetCapacityUpdated") == [
        {"asset": ASSET_BATTERY, "upW": 111, "downW": 222}
    ]
    after = g.asset(ASSET_BATTERY).call()
    assert after[4:6] == (111, 222)
    assert after[:4] + after[6:] == before[:4] + before[6:]
    with reverts(world.grid, "NotAssetOwner", ASSET_BATTERY, world.fsp2.address):
        send(g.updateAssetCapacity(ASSET_BATTERY, 1, 1), world.fsp2)


def test_retire_asset(world: World) -> None:
    g = world.grid.functions
    with reverts(world.grid, "NotAssetOwner", ASSET_BATTERY, world.fsp2.address):
        send(g.retireAsset(ASSET_BATTERY), world.fsp2)
    receipt = send(g.retireAsset(ASSET_BATTERY), world.fsp)
    assert events(world.grid, receipt, "AssetRetired") == [
        {"asset": ASSET_BATTERY, "owner": world.fsp.address}
    ]
    assert g.assetPlacement(ASSET_BATTERY).call()[2] is True
    with reverts(world.grid, "AssetIsRetired", ASSET_BATTERY):
        send(g.retireAsset(ASSET_BATTERY), world.fsp)
    with reverts(world.grid, "AssetIsRetired", ASSET_BATTERY):
        send(g.updateAssetCapacity(ASSET_BATTERY, 1, 1), world.fsp)
    with reverts(world.grid, "AssetIsRetired", ASSET_BATTERY):
        send(g.confirmAssetNode(ASSET_BATTERY, NODE_DSO_LEFT), world.dso)
    unknown = to_checksum_address("0x" + "c1" * 20)
    with reverts(world.grid, "UnknownAsset", unknown):
        send(g.retireAsset(unknown), world.fsp)


def test_role_registry_is_exposed(world: World) -> None:
    assert world.grid.functions.roleRegistry().call() == world.roles.address
