"""Licence-area overlaps held for the operator's decision, and role revocation mirrored at once."""

from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from market.client import FlexledgerClient
from market.client.base import ApiError
from market.db.models import Organisation, OrganisationKind, OrganisationStatus
from oracle.outbox.models import OutboxMessage
from oracle.types import Address, Role
from tests.market.api.platform_world import COMPANY, Actor, PlatformWorld

PREFIX = "/api/v1"


def register(world: PlatformWorld, kind: str, name: str, **area: Any) -> tuple[Actor, Any]:
    actor = world.new_actor()
    body = {"kind": kind, "company": {"name": name, **COMPANY}, **area}
    response = world.client.post(f"{PREFIX}/organisations", json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    actor.organisation_id = response.json()["id"]
    return actor, response.json()


def approve(world: PlatformWorld, organisation_id: str, body: Any = None) -> Any:
    return world.client.post(
        f"{PREFIX}/organisations/{organisation_id}/approve",
        json=body,
        headers=world.operator.headers,
    )


def outbox_count(world: PlatformWorld) -> int:
    with Session(world.platform.engine) as session:
        return session.exec(select(func.count()).select_from(OutboxMessage)).one()


def square(x: float, y: float, side: float = 1.0) -> dict[str, Any]:
    ring = [[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_an_overlapping_node_list_is_held_until_the_operator_accepts_it(
    world: PlatformWorld,
) -> None:
    first = world.onboard(OrganisationKind.DSO, "Area DSO", licence_area_nodes=[9001, 9005])
    second, registered = register(world, "dso", "Overlapping DSO", licence_area_nodes=[9005])
    assert registered["status"] == "pending"
    assert registered["licence_conflicts"] == [first.organisation_id]
    before = outbox_count(world)
    refused = approve(world, registered["id"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "allow_overlap_with"]
    assert str(first.organisation_id) in refused.json()["detail"][0]["msg"]
    assert outbox_count(world) == before
    seen = world.client.get(f"{PREFIX}/organisations/{registered['id']}", headers=second.headers)
    assert seen.json()["status"] == "pending"
    accepted = approve(world, registered["id"], {"allow_overlap_with": [first.organisation_id]})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["overlap_accepted"] == [first.organisation_id]


def test_a_node_below_another_operators_grid_overlaps(world: PlatformWorld) -> None:
    grid_dso = world.onboard(OrganisationKind.DSO, "Grid owner DSO")
    nodes = [
        {"node_id": 9100, "parent_id": 0, "name": "MV", "voltage_kv": 10},
        {"node_id": 9101, "parent_id": 9100, "name": "LV", "voltage_kv": 0.4},
        {"node_id": 9102, "parent_id": 9101, "name": "House", "voltage_kv": 0.4},
    ]
    imported = world.client.post(
        f"{PREFIX}/grid/import", json={"nodes": nodes}, headers=grid_dso.headers
    )
    assert imported.status_code == 201, imported.text
    _, registered = register(world, "dso", "Feeder DSO", licence_area_nodes=[9102])
    assert registered["licence_conflicts"] == [grid_dso.organisation_id]
    assert approve(world, registered["id"]).status_code == 409


def test_polygons_that_share_an_area_overlap_and_touching_ones_do_not(
    world: PlatformWorld,
) -> None:
    _, west = register(world, "dso", "West DSO", licence_area_polygon=square(120.0, 10.0))
    assert approve(world, west["id"]).status_code == 200
    _, inside = register(world, "dso", "Inner DSO", licence_area_polygon=square(120.25, 10.25, 0.5))
    assert inside["licence_conflicts"] == [west["id"]]
    _, across = register(world, "dso", "Across DSO", licence_area_polygon=square(120.5, 10.5))
    assert across["licence_conflicts"] == [west["id"]]
    _, east = register(world, "dso", "East DSO", licence_area_polygon=square(121.0, 10.0))
    assert east["licence_conflicts"] == []
    assert approve(world, east["id"]).status_code == 200


def test_a_tso_over_a_dsos_area_is_no_conflict(world: PlatformWorld) -> None:
    world.onboard(OrganisationKind.DSO, "Under DSO", licence_area_nodes=[9301])
    _, tso = register(world, "tso", "Over TSO", licence_area_nodes=[9301])
    assert tso["licence_conflicts"] == []


def test_a_revoked_fsp_is_refused_its_next_write_at_once(world: PlatformWorld) -> None:
    fsp = world.onboard(OrganisationKind.FSP, "Revoked FSP")
    hook = {"url": "http://localhost:9/flex"}
    written = world.client.post(f"{PREFIX}/webhooks", json=hook, headers=fsp.headers)
    assert written.status_code == 201, written.text  # its role answer is cached now
    path = f"{PREFIX}/organisations/{fsp.organisation_id}/revoke"
    assert world.client.post(path, headers=fsp.headers).status_code == 403
    revoked = world.client.post(path, headers=world.operator.headers)
    assert revoked.status_code == 202, revoked.text
    world.settle()  # RoleRevoked is mined and indexed
    with Session(world.platform.engine) as session:
        organisation = session.get(Organisation, fsp.organisation_id)
        assert organisation is not None and organisation.status == OrganisationStatus.REVOKED
        address = Address(organisation.address)
    assert not world.platform.has_role(address, Role.FSP)  # the cached answer is gone
    refused = world.client.post(f"{PREFIX}/webhooks", json=hook, headers=fsp.headers)
    assert refused.status_code == 403, refused.text
    again = world.client.post(path, headers=world.operator.headers)
    assert again.status_code == 409 and again.json()["detail"][0]["loc"] == ["body", "status"]


def test_the_client_approves_an_overlap_and_revokes(world: PlatformWorld) -> None:
    operator = FlexledgerClient(world.operator.wallet, world.client)
    operator.sign_in()
    first = world.onboard(OrganisationKind.DSO, "Client area DSO", licence_area_nodes=[9401])
    _, second = register(world, "dso", "Client overlap DSO", licence_area_nodes=[9401])
    with pytest.raises(ApiError) as held:
        operator.approve(second["id"])
    assert held.value.status == 409
    assert first.organisation_id is not None
    approved = operator.approve(second["id"], allow_overlap_with=[first.organisation_id])
    assert approved["status"] == "approved"
    assert approved["overlap_accepted"] == [first.organisation_id]
    world.settle()
    operator.revoke(second["id"])
    world.settle()
    listed = {o["id"]: o["status"] for o in operator.organisations(kind="dso", status="revoked")}
    assert listed.get(second["id"]) == "revoked"
