from dataclasses import replace

import pandapower as pp
import pytest
from pandapower.auxiliary import pandapowerNet

from grid import (
    MAX_DEPTH,
    DisconnectedBusesError,
    GridInputError,
    GridNode,
    TopologyError,
    TreeTooDeepError,
    is_at_or_below,
    load_network,
    nearest_bus_node,
    node_id_of_bus,
    node_tree,
)
from grid.topology import BusTree, ancestors
from tests.grid.factories import chain_network

R18 = node_id_of_bus(19)  # a house at the end of the residential feeder
R_TRAFO_LV = node_id_of_bus(2)  # Bus R1, below the residential transformer
I_TRAFO_HV = node_id_of_bus(20)  # Bus I0, the industrial feeder's 20 kV side


def test_cigre_lv_tree_has_every_bus_under_the_external_grid(cigre_lv: pandapowerNet) -> None:
    nodes = node_tree(cigre_lv)

    assert len(nodes) == 44
    root = nodes[0]
    assert (root.node_id, root.parent_id, root.kind, root.voltage_kv) == (1, 0, "root", 20.0)
    assert [n.kind for n in nodes[1:]] == ["bus"] * 43
    assert [n.node_id for n in nodes] == [n.bus + 1 for n in nodes]


def test_parents_come_before_their_children(cigre_lv: pandapowerNet) -> None:
    seen: set[int] = {0}
    for node in node_tree(cigre_lv):
        assert node.parent_id in seen
        seen.add(node.node_id)


def test_cigre_lv_reference_paths_and_depth(cigre_lv: pandapowerNet) -> None:
    nodes = node_tree(cigre_lv)
    tree = BusTree(nodes)

    assert max(tree.depth.values()) == 13 == tree.depth[19]
    path = [n - 1 for n in ancestors(nodes, R18)]  # as bus indices
    assert path == [19, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert sum(1 for below in tree.children.values() if not below) == 13


def test_at_or_below_follows_the_tree(cigre_lv: pandapowerNet) -> None:
    nodes = node_tree(cigre_lv)

    assert is_at_or_below(nodes, R18, R_TRAFO_LV)
    assert is_at_or_below(nodes, R18, R18)
    assert is_at_or_below(nodes, R18, 1)
    assert not is_at_or_below(nodes, R_TRAFO_LV, R18)
    assert not is_at_or_below(nodes, R18, I_TRAFO_HV)


def test_at_or_below_names_an_unknown_node(cigre_lv: pandapowerNet) -> None:
    with pytest.raises(GridInputError, match=r"node_id: no node 999"):
        is_at_or_below(node_tree(cigre_lv), 999, 1)


def test_open_ring_switches_cut_the_mv_rings() -> None:
    tree = BusTree(node_tree(load_network("cigre-mv")))

    # Line 12 (bus 6 - bus 7) is open at bus 7, so bus 7 hangs under bus 8, not bus 6.
    assert tree.parent[7] == 8
    assert tree.parent[6] == 5
    assert tree.root == 0 and len(tree.parent) == 15


def test_disconnected_buses_are_named_or_left_out() -> None:
    net = load_network("cigre-lv")
    net.line.loc[net.line.name == "Line R9-R10", "in_service"] = False  # cuts off R10, R18

    with pytest.raises(DisconnectedBusesError, match=r"buses 11, 19 are not connected") as caught:
        node_tree(net)
    assert caught.value.buses == (11, 19)

    kept = node_tree(net, exclude_disconnected=True)
    assert {n.bus for n in kept} == set(range(44)) - {11, 19}


def test_out_of_service_buses_are_simply_absent() -> None:
    net = load_network("cigre-lv")
    net.bus.loc[[11, 19], "in_service"] = False

    assert len(node_tree(net)) == 42


def test_a_tree_deeper_than_the_chain_allows_is_refused() -> None:
    assert len(node_tree(chain_network(MAX_DEPTH))) == MAX_DEPTH

    with pytest.raises(TreeTooDeepError, match=r"depth 33, deeper than the chain's limit of 32"):
        node_tree(chain_network(MAX_DEPTH + 1))


def test_the_tree_needs_exactly_one_external_grid(cigre_lv: pandapowerNet) -> None:
    net = load_network("kerber-landnetz-kabel-1")
    pp.create_ext_grid(net, 5)

    with pytest.raises(TopologyError, match=r"net.ext_grid: .* found \[0, 5\]"):
        node_tree(net)


def test_geodata_coordinates_are_used(cigre_lv: pandapowerNet) -> None:
    node = next(n for n in node_tree(cigre_lv) if n.bus == 19)

    assert _xy(node) == pytest.approx((-3.7083333333, 12.0))


def test_a_grid_without_geodata_gets_a_schematic_layout() -> None:
    nodes = node_tree(load_network("kerber-landnetz-kabel-1"))
    tree = BusTree(nodes)
    places = {n.bus: _xy(n) for n in nodes}
    leaf_xs = sorted(places[bus][0] for bus, below in tree.children.items() if not below)

    assert all(y == -(tree.depth[bus] - 1) for bus, (_, y) in places.items())
    assert leaf_xs == [float(i) for i in range(len(leaf_xs))]
    root_x, root_y = places[tree.root]
    assert root_y == 0.0 and leaf_xs[0] < root_x < leaf_xs[-1]


def test_nearest_node_prefers_the_low_voltage_level(cigre_lv: pandapowerNet) -> None:
    nodes = node_tree(cigre_lv)

    assert nearest_bus_node(nodes, -3.70, 12.1) == R18
    # (0.2, 1.0) is where the 20 kV buses sit; the nearest 0.4 kV bus is I1, one unit away.
    assert nearest_bus_node(nodes, 0.2, 1.0) == node_id_of_bus(21)
    assert nearest_bus_node(nodes, 0.2, 1.0, voltage_kv=20.0) == node_id_of_bus(1)


def test_nearest_node_prefers_a_leaf_among_co_located_buses() -> None:
    root, middle, end = node_tree(chain_network(3))  # the middle bus is a junction
    assert middle.x is not None and middle.y is not None
    co_located = [root, middle, replace(end, x=middle.x, y=middle.y)]

    assert nearest_bus_node(co_located, middle.x, middle.y) == end.node_id


def test_nearest_node_names_a_missing_voltage_level(cigre_lv: pandapowerNet) -> None:
    with pytest.raises(GridInputError, match=r"voltage_kv: no node at 10 kV; levels are 0.4, 20"):
        nearest_bus_node(node_tree(cigre_lv), 0.0, 0.0, voltage_kv=10.0)


def _xy(node: GridNode) -> tuple[float, float]:
    assert node.x is not None and node.y is not None
    return node.x, node.y
