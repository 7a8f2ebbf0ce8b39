"""Registration, approval and sign-in through the REST API."""

from market.db.models import OrganisationKind
from tests.market.api.platform_world import COMPANY, PlatformWorld


def test_sign_in_then_me_shows_no_roles(world: PlatformWorld) -> None:
    actor = world.new_actor()
    me = world.client.get("/api/v1/auth/me", headers=actor.headers).json()
    assert me["address"] == actor.address
    assert me["roles"] == [] and me["organisation_id"] is None


def test_onboarded_fsp_is_active_with_its_role_on_chain(world: PlatformWorld) -> None:
    fsp = world.onboard(OrganisationKind.FSP, "FSP One")
    me = world.client.get("/api/v1/auth/me", headers=fsp.headers).json()
    assert me["status"] == "active" and me["roles"] == ["FSP"]
    credential = world.client.get(
        f"/api/v1/organisations/{fsp.organisation_id}/credential", headers=fsp.headers
    ).json()
    assert credential["credentialSubject"]["id"].lower().endswith(fsp.address.lower())


def test_company_details_hidden_from_other_participants(world: PlatformWorld) -> None:
    fsp = world.onboard(OrganisationKind.FSP, "FSP Two")
    other = world.new_actor()
    seen = world.client.get(
        f"/api/v1/organisations/{fsp.organisation_id}", headers=other.headers
    ).json()
    assert seen["company"] is None and seen["details_hash"].startswith("0x")


def test_only_the_operator_approves(world: PlatformWorld) -> None:
    actor = world.new_actor()
    body = {"kind": "dso", "company": {"name": "DSO X", **COMPANY}, "licence_area_nodes": [1]}
    created = world.client.post("/api/v1/organisations", json=body, headers=actor.headers)
    denied = world.client.post(
        f"/api/v1/organisations/{created.json()['id']}/approve", headers=actor.headers
    )
    assert denied.status_code == 403
    assert denied.json()["detail"][0]["loc"] == ["body", "authorization"]


def test_bad_country_names_the_field_and_writes_nothing(world: PlatformWorld) -> None:
    actor = world.new_actor()
    body = {"kind": "fsp", "company": {"name": "Bad", **COMPANY, "country": "Germany"}}
    response = world.client.post("/api/v1/organisations", json=body, headers=actor.headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "company", "country"]
    me = world.client.get("/api/v1/auth/me", headers=actor.headers).json()
    assert me["organisation_id"] is None


def test_anonymous_is_refused(world: PlatformWorld) -> None:
    response = world.client.get("/api/v1/organisations")
    assert response.status_code == 401
