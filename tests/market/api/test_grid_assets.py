"""Grid import by system operators, asset registration by FSPs, node mapping, and who may
do and see what. The chain side runs for real: the returned transactions are signed by the
participants' wallets, relayed, mined and indexed back."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandapower as pp
import pytest
from eth_utils.crypto import keccak
from sqlalchemy import func
from sqlmodel import Session, select

from grid.networks import load_network
from market.client import FlexledgerClient
from market.db.models import Asset, GridNode, Organisation, OrganisationKind
from market.grid_service import area_node_ids, in_licence_area, licence_nodes
from oracle.outbox.models import OutboxMessage
from tests.market.api.platform_world import Actor, PlatformWorld

CIGRE_LV_BUSES = 44
REGISTER_NODES = keccak(text="registerNodes(uint32[],uint32[],address)")[:4]
# Bus "R11" of the CIGRE LV grid (node id = bus index 12 + 1) at its schematic coordinates.
R11_NODE, R11_X, R11_Y = 13, -0.9583333333, 5.0
SECOND_GRID_OFFSET = 1000


@dataclass
class GridWorld:
    """The module's cast: a DSO with cigre-lv on chain, a second DSO with a small grid of its
    own, two FSPs and an auditor."""

    world: PlatformWorld
    dso: Actor
    other_dso: Actor
    fsp: Actor
    other_fsp: Actor
    auditor: Actor
    imported: dict[str, Any]


def relay_all(world: PlatformWorld, actor: Actor, transactions: list[dict[str, Any]]) -> None:
    for transaction in transactions:
        fields = {key: value for key, value in transaction.items() if key != "from"}
        raw = actor.wallet.sign_transaction(fields)
        response = world.client.post(
            "/api/v1/transactions", json={"raw_transaction": raw}, headers=actor.headers
        )
        assert response.status_code == 202, response.text


def post(world: PlatformWorld, actor: Actor, path: str, body: Any) -> Any:
    return world.client.post(f"/api/v1{path}", json=body, headers=actor.headers)


def get(world: PlatformWorld, actor: Actor, path: str, **params: Any) -> Any:
    return world.client.get(f"/api/v1{path}", params=params, headers=actor.headers)


def counts(world: PlatformWorld) -> tuple[int, int, int]:
    """Grid nodes, assets and outbox messages stored: what a refused request must not change."""
    with Session(world.platform.engine) as session:
        return (
            session.exec(select(func.count()).select_from(GridNode)).one(),
            session.exec(select(func.count()).select_from(Asset)).one(),
            session.exec(select(func.count()).select_from(OutboxMessage)).one(),
        )


def small_grid(offset: int = 0, x: float = 50.0) -> list[dict[str, Any]]:
    """A feeder: a 10 kV root at (x, 5), a 0.4 kV busbar under it and two houses, east of
    the CIGRE grid's schematic coordinates."""
    return [
        {"node_id": 1 + offset, "parent_id": 0, "name": "MV", "voltage_kv": 10, "x": x, "y": 5},
        {"node_id": 2 + offset, "parent_id": 1 + offset, "name": "LV", "voltage_kv": 0.4},
        {"node_id": 3 + offset, "parent_id": 2 + offset, "name": "H1", "voltage_kv": 0.4},
        {"node_id": 4 + offset, "parent_id": 2 + offset, "name": "H2", "voltage_kv": 0.4},
    ]


def asset_body(meter_point_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "home battery, Elm St 4",
        "technology": "battery",
        "meter_point_id": meter_point_id,
        "latitude": R11_Y + 0.001,
        "longitude": R11_X + 0.001,
        "prequalified_up_kw": 5.0,
        "prequalified_down_kw": 3.5,
        **changes,
    }


def meter_point(serial: int) -> str:
    return f"871687{serial:012d}"


@pytest.fixture(scope="module")
def cast(world: PlatformWorld) -> Iterator[GridWorld]:
    dso = world.onboard(OrganisationKind.DSO, "Grid DSO")
    other_dso = world.onboard(OrganisationKind.DSO, "Other DSO")
    fsp = world.onboard(OrganisationKind.FSP, "Asset FSP")
    other_fsp = world.onboard(OrganisationKind.FSP, "Other FSP")
    auditor = world.onboard(OrganisationKind.AUDITOR, "Auditor")
    imported = post(world, dso, "/grid/import", {"network": "cigre-lv"})
    assert imported.status_code == 201, imported.text
    relay_all(world, dso, imported.json()["transactions"])
    other = post(world, other_dso, "/grid/import", {"nodes": small_grid(SECOND_GRID_OFFSET)})
    assert other.status_code == 201, other.text
    relay_all(world, other_dso, other.json()["transactions"])
    world.settle()
    yield GridWorld(world, dso, other_dso, fsp, other_fsp, auditor, imported.json())


def register_asset(cast: GridWorld, serial: int, **changes: Any) -> dict[str, Any]:
    response = post(cast.world, cast.fsp, "/assets", asset_body(meter_point(serial), **changes))
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    relay_all(cast.world, cast.fsp, [registered["transaction"]])
    cast.world.settle()
    return registered


# --- the grid ------------------------------------------------------------------------


def test_catalogue_lists_the_reference_networks(cast: GridWorld) -> None:
    names = [n["name"] for n in get(cast.world, cast.fsp, "/grid/networks").json()]
    assert "cigre-lv" in names and "kerber-landnetz-kabel-1" in names


def test_imported_cigre_lv_is_on_chain_parents_first(cast: GridWorld) -> None:
    imported = cast.imported
    assert len(imported["nodes"]) == CIGRE_LV_BUSES
    (transaction,) = imported["transactions"]  # one registerNodes for all 44 nodes
    assert transaction["data"].startswith("0x" + REGISTER_NODES.hex())
    position = {node["node_id"]: i for i, node in enumerate(imported["nodes"])}
    assert all(
        position[n["parent_id"]] < position[n["node_id"]]
        for n in imported["nodes"]
        if n["parent_id"]
    )
    stored = get(
        cast.world, cast.auditor, "/grid/nodes", operator_id=cast.dso.organisation_id
    ).json()
    assert len(stored) == CIGRE_LV_BUSES and all(node["on_chain"] for node in stored)
    assert {node["network"] for node in stored} == {"cigre-lv"}


def test_node_detail_lists_its_children(cast: GridWorld) -> None:
    root = get(cast.world, cast.fsp, "/grid/nodes/1").json()
    assert root["parent_id"] == 0 and root["kind"] == "root"
    assert sorted(child["node_id"] for child in root["children"]) == [2, 21, 24]
    assert get(cast.world, cast.fsp, "/grid/nodes/999999").status_code == 404


def test_fsp_cannot_import_a_grid(cast: GridWorld) -> None:
    before = counts(cast.world)
    body = {"nodes": small_grid(5000)}
    response = post(cast.world, cast.fsp, "/grid/import", body)
    assert response.status_code == 403
    assert response.json()["detail"][0]["loc"] == ["body", "authorization"]
    assert counts(cast.world) == before


def test_taken_node_ids_are_409_naming_node_id(cast: GridWorld) -> None:
    before = counts(cast.world)
    response = post(cast.world, cast.other_dso, "/grid/import", {"network": "cigre-lv"})
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["body", "node_id"]
    assert "node_id_offset" in response.json()["detail"][0]["msg"]
    listed = post(cast.world, cast.other_dso, "/grid/import", {"nodes": small_grid()})
    assert listed.status_code == 409
    assert listed.json()["detail"][0]["loc"] == ["body", "nodes", "0", "node_id"]
    assert counts(cast.world) == before


def test_attaching_under_another_operators_node_is_forbidden(cast: GridWorld) -> None:
    before = counts(cast.world)
    body = {"network": "kerber-landnetz-kabel-1", "node_id_offset": 3000, "attach_under": 3}
    response = post(cast.world, cast.other_dso, "/grid/import", body)
    assert response.status_code == 403
    assert response.json()["detail"][0]["loc"] == ["body", "attach_under"]
    assert counts(cast.world) == before


def test_attaching_under_own_node_offsets_and_chains_the_tree(cast: GridWorld) -> None:
    body = {
        "network": "kerber-landnetz-kabel-1",
        "node_id_offset": 2000,
        "attach_under": SECOND_GRID_OFFSET + 2,
    }
    response = post(cast.world, cast.other_dso, "/grid/import", body)
    assert response.status_code == 201, response.text
    nodes = response.json()["nodes"]
    assert nodes[0]["node_id"] == 2001 and nodes[0]["parent_id"] == SECOND_GRID_OFFSET + 2
    assert nodes[0]["kind"] == "bus"
    assert all(node["node_id"] > 2000 for node in nodes)
    relay_all(cast.world, cast.other_dso, response.json()["transactions"])
    cast.world.settle()
    stored = get(cast.world, cast.dso, "/grid/nodes", network="kerber-landnetz-kabel-1").json()
    assert len(stored) == len(nodes) and all(node["on_chain"] for node in stored)


def deep_chain(length: int) -> list[dict[str, Any]]:
    return [
        {
            "node_id": 7000 + i,
            "parent_id": 7000 + i - 1 if i else 0,
            "name": f"n{i}",
            "voltage_kv": 0.4,
        }
        for i in range(length)
    ]


def pandapower_json_of_cigre_lv() -> str:
    text: str = pp.to_json(load_network("cigre-lv"))
    return text


BAD_IMPORTS: list[tuple[str, dict[str, Any], int, list[str]]] = [
    ("no source", {"name": "x"}, 422, ["network"]),
    ("two sources", {"network": "cigre-lv", "nodes": small_grid(7000)}, 422, ["network"]),
    ("unknown network", {"network": "atlantis"}, 422, ["network"]),
    ("network pattern", {"network": "Bad Name!"}, 422, ["network"]),
    ("unknown field", {"network": "cigre-lv", "colour": "red"}, 422, ["colour"]),
    ("offset negative", {"nodes": small_grid(7000), "node_id_offset": -1}, 422, ["node_id_offset"]),
    (
        "offset overflows",
        {"nodes": small_grid(), "node_id_offset": 2**32 - 3},
        422,
        ["node_id_offset"],
    ),
    ("attach_under zero", {"network": "cigre-lv", "attach_under": 0}, 422, ["attach_under"]),
    ("empty list", {"nodes": []}, 422, ["nodes"]),
    (
        "node id zero",
        {"nodes": [{**small_grid(7000)[0], "node_id": 0}]},
        422,
        ["nodes", "0", "node_id"],
    ),
    (
        "duplicate id",
        {"nodes": [small_grid(7000)[0], small_grid(7000)[0]]},
        422,
        ["nodes", "1", "node_id"],
    ),
    (
        "unknown parent",
        {"nodes": [{**small_grid(7000)[1], "parent_id": 123456}]},
        422,
        ["nodes", "0", "parent_id"],
    ),
    (
        "cycle",
        {
            "nodes": [
                {"node_id": 7001, "parent_id": 7002, "name": "a", "voltage_kv": 0.4},
                {"node_id": 7002, "parent_id": 7001, "name": "b", "voltage_kv": 0.4},
            ]
        },
        422,
        ["nodes", "0", "parent_id"],
    ),
    ("too deep", {"nodes": deep_chain(33)}, 422, ["nodes", "32", "parent_id"]),
    (
        "voltage zero",
        {"nodes": [{**small_grid(7000)[0], "voltage_kv": 0}]},
        422,
        ["nodes", "0", "voltage_kv"],
    ),
    ("empty name", {"nodes": [{**small_grid(7000)[0], "name": " "}]}, 422, ["nodes", "0", "name"]),
    (
        "bad kind",
        {"nodes": [{**small_grid(7000)[0], "kind": "Bus Bar"}]},
        422,
        ["nodes", "0", "kind"],
    ),
    ("x too far", {"nodes": [{**small_grid(7000)[0], "x": 1e9}]}, 422, ["nodes", "0", "x"]),
    ("not json", {"pandapower_json": "{not json"}, 422, ["pandapower_json"]),
    ("not a network", {"pandapower_json": "[1, 2]"}, 422, ["pandapower_json"]),
    (
        "foreign module",
        {"pandapower_json": json.dumps({"_module": "os", "_class": "system", "_object": "echo"})},
        422,
        ["pandapower_json"],
    ),
    (
        "cim garbage",
        {"cim": {"files": [{"name": "EQ.xml", "content": "<nope"}]}},
        422,
        ["cim", "files"],
    ),
    (
        "cim file name",
        {"cim": {"files": [{"name": "../EQ.xml", "content": "<x/>"}]}},
        422,
        ["cim", "files", "0", "name"],
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [case[1:] for case in BAD_IMPORTS],
    ids=[case[0] for case in BAD_IMPORTS],
)
def test_bad_import_names_the_field_and_stores_nothing(
    cast: GridWorld, body: dict[str, Any], status: int, loc: list[str]
) -> None:
    before = counts(cast.world)
    response = post(cast.world, cast.other_dso, "/grid/import", body)
    assert response.status_code == status, response.text
    assert [str(part) for part in response.json()["detail"][0]["loc"]] == ["body", *loc]
    assert counts(cast.world) == before


def test_pandapower_json_import_with_offset(cast: GridWorld) -> None:
    body = {
        "pandapower_json": pandapower_json_of_cigre_lv(),
        "node_id_offset": 4000,
        "name": "cigre copy",
    }
    response = post(cast.world, cast.other_dso, "/grid/import", body)
    assert response.status_code == 201, response.text
    nodes = response.json()["nodes"]
    assert len(nodes) == CIGRE_LV_BUSES and nodes[0]["node_id"] == 4001
    assert {node["network"] for node in nodes} == {"cigre copy"}
    assert nodes[0]["bus"] == 0 and not nodes[0]["on_chain"]


def test_unrelayed_import_can_be_issued_again(cast: GridWorld) -> None:
    body = {"nodes": small_grid(6000, x=70.0)}
    first = post(cast.world, cast.other_dso, "/grid/import", body)
    assert first.status_code == 201, first.text
    again = post(cast.world, cast.other_dso, "/grid/import", body)
    assert again.status_code == 201, again.text
    assert [tx["data"] for tx in again.json()["transactions"]] == [
        tx["data"] for tx in first.json()["transactions"]
    ]
    relay_all(cast.world, cast.other_dso, again.json()["transactions"])
    cast.world.settle()
    once_more = post(cast.world, cast.other_dso, "/grid/import", body)
    assert once_more.status_code == 409


def test_licence_area_is_listed_nodes_and_everything_below(cast: GridWorld) -> None:
    residential_feeder = 2  # cigre-lv "Bus R0"; R1..R18 hang below it, nodes 3..20
    tso = cast.world.onboard(
        OrganisationKind.TSO, "Listing TSO", licence_area_nodes=[residential_feeder]
    )
    with Session(cast.world.platform.engine) as session:
        organisation = session.get(Organisation, tso.organisation_id)
        assert organisation is not None
        assert licence_nodes(session, organisation) == {residential_feeder}
        assert area_node_ids(session, organisation) == set(range(2, 21))
        assert in_licence_area(session, organisation, R11_NODE)
        assert not in_licence_area(session, organisation, 22)  # industrial feeder
        assert not in_licence_area(session, organisation, 1)  # the feeders' parent


def test_licence_polygon_covers_nodes_inside_and_below(cast: GridWorld) -> None:
    ring = [[2.5, 4.5], [4.0, 4.5], [4.0, 7.5], [2.5, 7.5], [2.5, 4.5]]
    polygon_dso = Organisation(
        id="polygon-dso",
        kind=OrganisationKind.DSO,
        licence_area_polygon=json.dumps({"type": "Polygon", "coordinates": [ring]}),
    )
    with Session(cast.world.platform.engine) as session:
        cigre_lv = set(range(1, CIGRE_LV_BUSES + 1))  # other tests import copies elsewhere
        inside = licence_nodes(session, polygon_dso) & cigre_lv
        assert inside == {34, 35, 37, 38}  # C10, C11, C13, C14
        assert in_licence_area(session, polygon_dso, 36)  # C12 lies outside, below C11
        assert not in_licence_area(session, polygon_dso, 27)  # C3, above them
        fsp = session.get(Organisation, cast.fsp.organisation_id)
        assert fsp is not None and not in_licence_area(session, fsp, R11_NODE)


# --- assets -------------------------------------------------------------------------


def test_asset_near_a_bus_is_proposed_there_and_flows_to_mapped(cast: GridWorld) -> None:
    registered = register_asset(cast, 1)
    asset = registered["asset"]
    assert asset["proposed_node_id"] == R11_NODE and asset["status"] == "registered"
    assert asset["prequalified_up_kw"] == 5.0 and asset["prequalified_down_kw"] == 3.5
    assert registered["transaction"]["from"] == cast.fsp.address
    on_chain = get(cast.world, cast.fsp, f"/assets/{asset['id']}").json()
    assert on_chain["status"] == "on_chain" and on_chain["node_id"] is None

    proposal = get(cast.world, cast.dso, f"/assets/{asset['id']}/node-proposal").json()
    assert proposal["proposed_node"]["node_id"] == R11_NODE
    assert proposal["nearest"][0]["node"]["node_id"] == R11_NODE
    assert proposal["nearest"][0]["distance_km"] < proposal["nearest"][1]["distance_km"]

    confirmed = post(cast.world, cast.dso, f"/assets/{asset['id']}/node", {})
    assert confirmed.status_code == 200, confirmed.text
    relay_all(cast.world, cast.dso, [confirmed.json()["transaction"]])
    cast.world.settle()
    mapped = get(cast.world, cast.fsp, f"/assets/{asset['id']}").json()
    assert mapped["status"] == "mapped" and mapped["node_id"] == R11_NODE


def test_dso_may_map_to_another_of_its_own_nodes(cast: GridWorld) -> None:
    asset = register_asset(cast, 2)["asset"]
    confirmed = post(cast.world, cast.dso, f"/assets/{asset['id']}/node", {"node_id": 6})
    assert confirmed.status_code == 200, confirmed.text
    relay_all(cast.world, cast.dso, [confirmed.json()["transaction"]])
    cast.world.settle()
    assert get(cast.world, cast.fsp, f"/assets/{asset['id']}").json()["node_id"] == 6


def test_another_dso_cannot_map_the_asset(cast: GridWorld) -> None:
    asset = register_asset(cast, 3)["asset"]
    path = f"/assets/{asset['id']}/node"
    denied = post(cast.world, cast.other_dso, path, {"node_id": SECOND_GRID_OFFSET + 3})
    assert denied.status_code == 403
    assert denied.json()["detail"][0]["loc"] == ["body", "asset_id"]
    foreign_node = post(cast.world, cast.dso, path, {"node_id": SECOND_GRID_OFFSET + 3})
    assert foreign_node.status_code == 403
    assert foreign_node.json()["detail"][0]["loc"] == ["body", "node_id"]
    by_fsp = post(cast.world, cast.fsp, path, {})
    assert by_fsp.status_code == 403


def test_asset_is_mapped_only_once_on_chain(cast: GridWorld) -> None:
    response = post(cast.world, cast.fsp, "/assets", asset_body(meter_point(4)))
    assert response.status_code == 201
    early = post(cast.world, cast.dso, f"/assets/{response.json()['asset']['id']}/node", {})
    assert early.status_code == 409
    assert early.json()["detail"][0]["loc"] == ["body", "asset_id"]


def test_asset_east_of_cigre_goes_to_the_second_grid(cast: GridWorld) -> None:
    registered = post(
        cast.world, cast.fsp, "/assets", asset_body(meter_point(5), latitude=5.0, longitude=49.0)
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["asset"]["proposed_node_id"] == SECOND_GRID_OFFSET + 1


BAD_ASSETS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("name empty", {"name": "  "}, ["name"]),
    ("name long", {"name": "x" * 201}, ["name"]),
    ("technology", {"technology": "nuclear"}, ["technology"]),
    ("meter 16 digits", {"meter_point_id": "8716870000000000"}, ["meter_point_id"]),
    ("meter letters", {"meter_point_id": "87168700000000000A"}, ["meter_point_id"]),
    ("meter eic lower", {"meter_point_id": "10yde-rwenet---i"}, ["meter_point_id"]),
    ("latitude", {"latitude": 91}, ["latitude"]),
    ("longitude", {"longitude": -180.5}, ["longitude"]),
    ("up negative", {"prequalified_up_kw": -1}, ["prequalified_up_kw"]),
    ("down huge", {"prequalified_down_kw": 2e6}, ["prequalified_down_kw"]),
    ("no capacity", {"prequalified_up_kw": 0, "prequalified_down_kw": 0}, ["prequalified_up_kw"]),
    ("extra field", {"owner_id": "me"}, ["owner_id"]),
]


@pytest.mark.parametrize(
    ("changes", "loc"), [case[1:] for case in BAD_ASSETS], ids=[case[0] for case in BAD_ASSETS]
)
def test_bad_asset_names_the_field_and_stores_nothing(
    cast: GridWorld, changes: dict[str, Any], loc: list[str]
) -> None:
    before = counts(cast.world)
    response = post(cast.world, cast.fsp, "/assets", {**asset_body(meter_point(90)), **changes})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", *loc]
    assert counts(cast.world) == before


def test_eic_meter_point_is_accepted(cast: GridWorld) -> None:
    response = post(cast.world, cast.fsp, "/assets", asset_body("10YDE-RWENET---I"))
    assert response.status_code == 201, response.text


def test_duplicate_meter_point_is_409(cast: GridWorld) -> None:
    first = post(cast.world, cast.fsp, "/assets", asset_body(meter_point(6)))
    assert first.status_code == 201
    before = counts(cast.world)
    again = post(cast.world, cast.other_fsp, "/assets", asset_body(meter_point(6)))
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "meter_point_id"]
    assert counts(cast.world) == before


def test_reads_are_scoped(cast: GridWorld) -> None:
    asset = register_asset(cast, 7)["asset"]
    own = {a["id"] for a in get(cast.world, cast.fsp, "/assets").json()}
    assert asset["id"] in own
    assert get(cast.world, cast.other_fsp, "/assets").json() == []
    assert get(cast.world, cast.other_fsp, f"/assets/{asset['id']}").status_code == 404
    in_area = {a["id"] for a in get(cast.world, cast.dso, "/assets").json()}
    assert asset["id"] in in_area
    outside = {a["id"] for a in get(cast.world, cast.other_dso, "/assets").json()}
    assert asset["id"] not in outside
    assert get(cast.world, cast.other_dso, f"/assets/{asset['id']}").status_code == 404


def test_auditor_reads_everything_and_writes_nothing(cast: GridWorld) -> None:
    asset = register_asset(cast, 8)["asset"]
    seen = {a["id"] for a in get(cast.world, cast.auditor, "/assets").json()}
    assert asset["id"] in seen
    assert get(cast.world, cast.auditor, f"/assets/{asset['id']}/node-proposal").status_code == 200
    before = counts(cast.world)
    writes = [
        post(cast.world, cast.auditor, "/assets", asset_body(meter_point(91))),
        post(cast.world, cast.auditor, f"/assets/{asset['id']}/node", {}),
        post(cast.world, cast.auditor, "/grid/import", {"nodes": small_grid(8000)}),
    ]
    for response in writes:
        assert response.status_code == 403
        assert response.json()["detail"][0]["loc"] == ["body", "authorization"]
    assert counts(cast.world) == before


def test_anonymous_is_refused(cast: GridWorld) -> None:
    assert cast.world.client.get("/api/v1/grid/nodes").status_code == 401
    assert cast.world.client.get("/api/v1/assets").status_code == 401


# --- the Python client --------------------------------------------------------------


def client_of(world: PlatformWorld, actor: Actor) -> FlexledgerClient:
    client = FlexledgerClient(actor.wallet, world.client)
    client.sign_in()
    return client


def test_client_imports_registers_and_maps(cast: GridWorld) -> None:
    world = cast.world
    dso = client_of(world, world.onboard(OrganisationKind.DSO, "Client DSO"))
    fsp = client_of(world, cast.fsp)
    imported = dso.import_grid(nodes=small_grid(x=60.0), node_id_offset=9000, name="client grid")
    assert len(imported["relayed"]) == len(imported["transactions"]) == 1
    world.settle()
    assert all(node["on_chain"] for node in dso.grid_nodes(network="client grid"))
    assert [c["node_id"] for c in dso.grid_node(9002)["children"]] == [9003, 9004]

    registered = fsp.register_asset(
        name="heat pump",
        technology="heat_pump",
        meter_point_id=meter_point(10),
        latitude=5.0,
        longitude=60.2,
        prequalified_down_kw=2.0,
    )
    assert registered["asset"]["proposed_node_id"] == 9001
    world.settle()
    asset_id = registered["asset"]["id"]
    dso.confirm_asset_node(asset_id, 9003)
    world.settle()
    assert fsp.asset(asset_id)["node_id"] == 9003
    assert fsp.node_proposal(asset_id)["confirmed_node_id"] == 9003
    assert asset_id in {a["id"] for a in dso.assets(status="mapped")}


# --- batches (issue 7) -----------------------------------------------------------------


def star_grid(offset: int, leaves: int, x: float) -> list[dict[str, Any]]:
    root = {"node_id": offset + 1, "parent_id": 0, "name": "MV", "voltage_kv": 10, "x": x, "y": 5}
    return [root] + [
        {"node_id": offset + 2 + i, "parent_id": offset + 1, "name": f"H{i}", "voltage_kv": 0.4}
        for i in range(leaves)
    ]


def test_a_large_import_is_a_few_batched_transactions_in_nonce_order(cast: GridWorld) -> None:
    response = post(
        cast.world, cast.other_dso, "/grid/import", {"nodes": star_grid(20_000, 149, 90.0)}
    )
    assert response.status_code == 201, response.text
    transactions = response.json()["transactions"]
    assert len(transactions) == 2  # 150 nodes, at most 100 per registerNodes
    assert transactions[1]["nonce"] == transactions[0]["nonce"] + 1
    assert all(tx["gas"] < 8_000_000 for tx in transactions)
    relay_all(cast.world, cast.other_dso, transactions)
    cast.world.settle()
    stored = get(cast.world, cast.auditor, "/grid/nodes", limit=10_000).json()
    mine = [node for node in stored if 20_000 < node["node_id"] <= 20_150]
    assert len(mine) == 150 and all(node["on_chain"] for node in mine)


def batch_body(serials: list[int], **changes: Any) -> dict[str, Any]:
    return {"assets": [asset_body(meter_point(serial), **changes) for serial in serials]}


def test_batch_registration_is_one_transaction_and_the_dso_maps_them_in_one(
    cast: GridWorld,
) -> None:
    response = post(cast.world, cast.fsp, "/assets/batch", batch_body([201, 202, 203]))
    assert response.status_code == 201, response.text
    registered = response.json()
    ids = [asset["id"] for asset in registered["assets"]]
    assert len(ids) == 3 and {a["proposed_node_id"] for a in registered["assets"]} == {R11_NODE}
    relay_all(cast.world, cast.fsp, [registered["transaction"]])
    cast.world.settle()
    assert all(
        get(cast.world, cast.fsp, f"/assets/{i}").json()["status"] == "on_chain" for i in ids
    )

    before = counts(cast.world)
    body = {"assets": [{"asset_id": i} for i in ids]}
    denied = post(cast.world, cast.other_dso, "/assets/nodes", body)
    assert denied.status_code == 403
    assert denied.json()["detail"][0]["loc"] == ["body", "assets", "0", "asset_id"]
    foreign = {
        "assets": [{"asset_id": ids[0]}, {"asset_id": ids[1], "node_id": SECOND_GRID_OFFSET + 3}]
    }
    denied = post(cast.world, cast.dso, "/assets/nodes", foreign)
    assert denied.status_code == 403
    assert denied.json()["detail"][0]["loc"] == ["body", "assets", "1", "node_id"]
    assert counts(cast.world) == before

    body = {
        "assets": [{"asset_id": ids[0]}, {"asset_id": ids[1], "node_id": 6}, {"asset_id": ids[2]}]
    }
    mapped = post(cast.world, cast.dso, "/assets/nodes", body)
    assert mapped.status_code == 200, mapped.text
    relay_all(cast.world, cast.dso, [mapped.json()["transaction"]])
    cast.world.settle()
    nodes = [get(cast.world, cast.fsp, f"/assets/{i}").json()["node_id"] for i in ids]
    assert nodes == [R11_NODE, 6, R11_NODE]


def test_a_mapped_asset_cannot_be_taken_to_another_operators_grid(cast: GridWorld) -> None:
    """Once mapped, the asset's confirmed node decides who may move it, not its proposal."""
    asset = register_asset(cast, 210, latitude=5.0, longitude=49.0)["asset"]  # second grid
    assert asset["proposed_node_id"] == SECOND_GRID_OFFSET + 1
    path = f"/assets/{asset['id']}/node"
    mapped = post(cast.world, cast.other_dso, path, {"node_id": SECOND_GRID_OFFSET + 3})
    assert mapped.status_code == 200, mapped.text
    relay_all(cast.world, cast.other_dso, [mapped.json()["transaction"]])
    cast.world.settle()
    denied = post(cast.world, cast.dso, path, {"node_id": R11_NODE})
    assert denied.status_code == 403
    assert denied.json()["detail"][0]["loc"] == ["body", "asset_id"]


BAD_BATCHES: list[tuple[str, Any, int, list[str]]] = [
    ("empty", {"assets": []}, 422, ["assets"]),
    ("too many", batch_body(list(range(300, 351))), 422, ["assets"]),
    ("twice", batch_body([220, 221, 220]), 409, ["assets", "2", "meter_point_id"]),
    ("taken", batch_body([222, 201]), 409, ["assets", "1", "meter_point_id"]),
    (
        "no capacity",
        {"assets": [asset_body(meter_point(223), prequalified_up_kw=0, prequalified_down_kw=0)]},
        422,
        ["assets", "0", "prequalified_up_kw"],
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "loc"), [c[1:] for c in BAD_BATCHES], ids=[c[0] for c in BAD_BATCHES]
)
def test_a_bad_batch_names_the_item_and_stores_nothing(
    cast: GridWorld, body: Any, status: int, loc: list[str]
) -> None:
    post(cast.world, cast.fsp, "/assets/batch", batch_body([201]))  # make sure 201 is taken
    before = counts(cast.world)
    response = post(cast.world, cast.fsp, "/assets/batch", body)
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"][: len(loc) + 1] == ["body", *loc]
    assert counts(cast.world) == before


def test_client_registers_and_maps_in_batches(cast: GridWorld) -> None:
    world = cast.world
    dso, fsp = client_of(world, cast.dso), client_of(world, cast.fsp)
    bodies = [asset_body(meter_point(400 + i)) for i in range(60)]  # two requests of <= 50
    registered = fsp.register_assets(bodies)
    assert len(registered) == 60
    world.settle()
    mapped = dso.confirm_asset_nodes([(asset["id"], None) for asset in registered])
    assert len(mapped) == 60
    world.settle()
    ids = {asset["id"] for asset in registered}
    assert ids <= {a["id"] for a in dso.assets(status="mapped", limit=10_000)}
