"""GridRegistry: the node tree, its depth cap, and asset registration and confirmation."""

from __future__ import annotations

from typing import Any

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


# --- issue 7: registry writes checked on chain -----------------------------------------


def test_system_operator_cannot_hang_nodes_under_another_operators_parent(world: World) -> None:
    g = world.grid.functions
    with reverts(
        world.grid, "ParentNotOperated", NODE_TSO_ROOT, world.tso.address, world.dso.address
    ):
        send(g.registerNode(40, NODE_TSO_ROOT, world.dso.address), world.dso)
    with reverts(world.grid, "ParentNotOperated", NODE_DSO, world.dso.address, world.dso2.address):
        send(g.registerNode(40, NODE_DSO, world.dso2.address), world.dso2)
    with reverts(world.grid, "ParentNotOperated", NODE_DSO, world.dso.address, world.dso2.address):
        send(g.registerNodes([41, 42], [NODE_OTHER_ROOT, NODE_DSO], world.dso2.address), world.dso2)
    with reverts(world.grid, "UnknownNode", 41):
        g.node(41).call()  # the batch was all or none
    # the market operator connects trees of different operators
    send(g.registerNode(40, NODE_DSO, world.dso2.address), world.operator)
    assert g.node(40).call() == (world.dso2.address, NODE_DSO, 3)


def test_operator_cannot_remap_an_asset_outside_its_area(world: World) -> None:
    g = world.grid.functions
    # confirmed at the DSO's node: the other DSO may not take it to its own node
    with reverts(world.grid, "AssetOutsideArea", ASSET_BATTERY, NODE_DSO_LEFT, world.dso2.address):
        send(g.confirmAssetNode(ASSET_BATTERY, NODE_OTHER_ROOT), world.dso2)
    # unconfirmed: its proposed node decides
    send(g.registerAsset(NEW_ASSET, METER, 1, 1, 1, NODE_DSO_RIGHT), world.fsp2)
    with reverts(world.grid, "AssetOutsideArea", NEW_ASSET, NODE_DSO_RIGHT, world.dso2.address):
        send(g.confirmAssetNode(NEW_ASSET, NODE_OTHER_ROOT), world.dso2)
    with reverts(world.grid, "AssetOutsideArea", NEW_ASSET, NODE_DSO_RIGHT, world.dso2.address):
        send(g.confirmAssetNodes([NEW_ASSET], [NODE_OTHER_ROOT]), world.dso2)
    assert g.assetPlacement(NEW_ASSET).call() == [world.fsp2.address, 0, False]
    # the asset's own operator moves it between its nodes
    send(g.confirmAssetNode(ASSET_BATTERY, NODE_DSO_RIGHT), world.dso)
    assert g.assetPlacement(ASSET_BATTERY).call()[1] == NODE_DSO_RIGHT


def test_area_is_at_or_below_a_node_the_caller_operates(world: World) -> None:
    g = world.grid.functions
    # dso2 operates node 40 below the DSO's node 3 (connected by the market operator)
    send(g.registerNode(40, NODE_DSO_LEFT, world.dso2.address), world.operator)
    send(g.registerAsset(NEW_ASSET, METER, 1, 1, 1, 40), world.fsp)
    send(g.confirmAssetNode(NEW_ASSET, 40), world.dso2)
    # the DSO operates an ancestor of node 40, so the asset lies in its area too
    send(g.confirmAssetNode(NEW_ASSET, NODE_DSO_LEFT), world.dso)
    # now at node 3, which is not at or below anything dso2 operates
    with reverts(world.grid, "AssetOutsideArea", NEW_ASSET, NODE_DSO_LEFT, world.dso2.address):
        send(g.confirmAssetNode(NEW_ASSET, 40), world.dso2)


def test_owner_may_lower_but_not_raise_capacity(world: World) -> None:
    g = world.grid.functions
    up_w, down_w = g.asset(ASSET_BATTERY).call()[4:6]
    with reverts(world.grid, "CapacityRaised", ASSET_BATTERY, up_w + 1, down_w, up_w, down_w):
        send(g.updateAssetCapacity(ASSET_BATTERY, up_w + 1, down_w), world.fsp)
    with reverts(world.grid, "CapacityRaised", ASSET_BATTERY, 1, down_w + 1, up_w, down_w):
        send(g.updateAssetCapacity(ASSET_BATTERY, 1, down_w + 1), world.fsp)
    send(g.updateAssetCapacity(ASSET_BATTERY, up_w, down_w), world.fsp)  # unchanged is fine
    send(g.updateAssetCapacity(ASSET_BATTERY, 10, 20), world.fsp)
    with reverts(world.grid, "CapacityRaised", ASSET_BATTERY, 11, 20, 10, 20):
        send(g.updateAssetCapacity(ASSET_BATTERY, 11, 20), world.fsp)


# --- batches -------------------------------------------------------------------------


def _asset_inputs(count: int, node_id: int, seed: int = 0xB0) -> list[tuple[Any, ...]]:
    return [
        (
            to_checksum_address(bytes([seed]) + i.to_bytes(19, "big")),
            keccak(text=f"meter:{seed}:{i}"),
            1000 + i,
            2000 + i,
            1,
            node_id,
        )
        for i in range(count)
    ]


def test_register_nodes_in_one_batch_parents_first(world: World) -> None:
    g = world.grid.functions
    assert (g.MAX_NODE_BATCH().call(), g.MAX_ASSET_BATCH().call()) == (100, 50)
    assert g.MAX_CONFIRM_BATCH().call() == 200
    node_ids = [500 + i for i in range(100)]
    parents = [NODE_DSO_LEFT] + node_ids[:19] + [NODE_DSO_LEFT] * 80  # a chain of 20, then 80
    receipt = send(g.registerNodes(node_ids, parents, world.dso.address), world.dso)
    registered = events(world.grid, receipt, "NodeRegistered")
    assert [e["nodeId"] for e in registered] == node_ids
    assert registered[1] == {
        "nodeId": 501,
        "parentId": 500,
        "operator": world.dso.address,
        "depth": 5,
        "registeredBy": world.dso.address,
    }
    assert receipt["gasUsed"] / len(node_ids) < 35_000  # per node, calldata included
    with reverts(world.grid, "BatchSizeOutOfRange", 101, 100):
        send(g.registerNodes(list(range(700, 801)), [0] * 101, world.dso.address), world.dso)
    with reverts(world.grid, "BatchSizeOutOfRange", 0, 100):
        send(g.registerNodes([], [], world.dso.address), world.dso)
    with reverts(world.grid, "BatchLengthMismatch", 2, 1):
        send(g.registerNodes([700, 701], [0], world.dso.address), world.dso)
    with reverts(world.grid, "NodeExists", 500):
        send(g.registerNodes([700, 500], [0, 0], world.dso.address), world.dso)
    with reverts(world.grid, "OperatorNotCaller", world.dso2.address, world.dso.address):
        send(g.registerNodes([700], [0], world.dso2.address), world.dso)


def test_register_and_confirm_assets_in_batches(world: World) -> None:
    g = world.grid.functions
    inputs = _asset_inputs(50, NODE_DSO_RIGHT)
    receipt = send(g.registerAssets(inputs), world.fsp2)
    registered = events(world.grid, receipt, "AssetRegistered")
    assert len(registered) == 50
    assert registered[3] == {
        "asset": inputs[3][0],
        "owner": world.fsp2.address,
        "meterPointHash": inputs[3][1],
        "upW": 1003,
        "downW": 2003,
        "technology": 1,
        "proposedNodeId": NODE_DSO_RIGHT,
    }
    assert receipt["gasUsed"] / 50 < 80_000
    assert receipt["gasUsed"] < 4_000_000  # half the embedded chain's 8M block gas limit
    addresses = [item[0] for item in inputs]
    with reverts(world.grid, "BatchSizeOutOfRange", 51, 50):
        send(g.registerAssets(_asset_inputs(51, NODE_DSO_RIGHT, seed=0xC0)), world.fsp2)
    with reverts(world.grid, "MissingRole", world.dso.address, int(Role.FSP)):
        send(g.registerAssets(_asset_inputs(1, NODE_DSO_RIGHT, seed=0xC0)), world.dso)
    with reverts(world.grid, "AssetExists", addresses[0]):
        send(g.registerAssets(_asset_inputs(1, NODE_DSO_RIGHT)), world.fsp2)
    with reverts(world.grid, "NotNodeOperator", NODE_DSO_LEFT, world.dso2.address):
        send(g.confirmAssetNodes(addresses, [NODE_DSO_LEFT] * 50), world.dso2)
    with reverts(world.grid, "BatchLengthMismatch", 50, 1):
        send(g.confirmAssetNodes(addresses, [NODE_DSO_LEFT]), world.dso)
    receipt = send(g.confirmAssetNodes(addresses, [NODE_DSO_LEFT] * 50), world.dso)
    confirmed = events(world.grid, receipt, "AssetNodeConfirmed")
    assert [e["asset"] for e in confirmed] == addresses
    assert confirmed[0] == {
        "asset": addresses[0],
        "nodeId": NODE_DSO_LEFT,
        "confirmedBy": world.dso.address,
    }
    assert receipt["gasUsed"] / 50 < 15_000
    assert all(g.assetPlacement(a).call()[1] == NODE_DSO_LEFT for a in addresses)
