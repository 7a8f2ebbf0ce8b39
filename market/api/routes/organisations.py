"""Registration of DSOs, TSOs, FSPs and auditors; approval by the market operator."""

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from market import registration
from market.api.deps import ParticipantDep, PlatformDep, SessionDep
from market.api.links import ORGANISATION_REGISTERED
from market.db.models import Organisation, OrganisationKind, OrganisationStatus
from market.errors import ForbiddenError
from market.registration import CompanyDetails
from oracle.types import Address, Role

router = APIRouter(prefix="/organisations", tags=["organisations"])


Position = Annotated[list[float], Field(min_length=2, max_length=2)]
Ring = Annotated[list[Position], Field(min_length=4, max_length=10_000)]


class Polygon(BaseModel):
    """A GeoJSON Polygon: rings of [longitude, latitude] positions, each ring closed."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^Polygon$")
    coordinates: list[
        Annotated[
            list[Annotated[list[float], Field(min_length=2, max_length=2)]], Field(min_length=4)
        ]
    ] = Field(min_length=1, max_length=20)


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OrganisationKind
    company: CompanyDetails
    licence_area_polygon: Polygon | None = None
    licence_area_nodes: list[Annotated[int, Field(ge=1, le=2**32 - 1)]] | None = Field(
        default=None, max_length=100_000
    )


class ApprovalIn(BaseModel):
    """The market operator's decision on a registration whose licence area overlaps others."""

    model_config = ConfigDict(extra="forbid")

    allow_overlap_with: list[Annotated[str, Field(max_length=36)]] = Field(
        default_factory=list,
        max_length=1000,
        description="Ids of the operators whose licence areas this one may overlap: every "
        "overlapping operator must be listed, or the approval is refused (409).",
    )


class OrganisationOut(BaseModel):
    id: str
    kind: OrganisationKind
    status: OrganisationStatus
    address: str
    did: str
    details_hash: str
    credential_hash: str | None
    company: CompanyDetails | None = Field(
        default=None, description="Only for the organisation itself, the operator and auditors."
    )
    licence_area_polygon: dict[str, Any] | None = None
    licence_area_nodes: list[int] | None = None
    licence_conflicts: list[str] = Field(
        default_factory=list,
        description="Same-kind operators whose licence areas overlap this one's; an overlap "
        "needs the market operator's explicit decision (allow_overlap_with) to be approved.",
    )
    overlap_accepted: list[str] = Field(
        default_factory=list, description="The overlaps the market operator accepted."
    )

    @classmethod
    def of(cls, organisation: Organisation, *, with_details: bool) -> "OrganisationOut":
        company = (
            CompanyDetails(
                name=organisation.name,
                legal_name=organisation.legal_name,
                registration_number=organisation.registration_number,
                country=organisation.country,
                email=organisation.email,
            )
            if with_details
            else None
        )
        return cls(
            id=organisation.id,
            kind=organisation.kind,
            status=organisation.status,
            address=organisation.address,
            did=organisation.did,
            details_hash=organisation.details_hash,
            credential_hash=organisation.credential_hash,
            company=company,
            licence_area_polygon=json.loads(organisation.licence_area_polygon)
            if organisation.licence_area_polygon
            else None,
            licence_area_nodes=json.loads(organisation.licence_area_nodes)
            if organisation.licence_area_nodes
            else None,
            licence_conflicts=json.loads(organisation.licence_conflicts or "[]"),
            overlap_accepted=json.loads(organisation.overlap_accepted or "[]"),
        )


def _may_see_details(participant: ParticipantDep, organisation: Organisation) -> bool:
    return (
        participant.is_operator
        or participant.address == organisation.address
        or participant.holds(Role.AUDITOR)
    )


def _funder(request: Request) -> Callable[[Address], None] | None:
    fund: Callable[[Address], None] | None = request.app.state.fund
    return fund


@router.post(
    "",
    status_code=201,
    summary="Register the signed-in wallet's organisation",
    responses=ORGANISATION_REGISTERED,
)
def register(
    body: RegistrationIn, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> OrganisationOut:
    organisation = registration.register(
        session,
        platform,
        address=participant.address,
        kind=body.kind,
        details=body.company,
        licence_area_polygon=body.licence_area_polygon.model_dump()
        if body.licence_area_polygon
        else None,
        licence_area_nodes=body.licence_area_nodes,
    )
    return OrganisationOut.of(organisation, with_details=True)


@router.get("", summary="Organisations (company details only where the caller may see them)")
def list_organisations(
    participant: ParticipantDep,
    session: SessionDep,
    kind: OrganisationKind | None = None,
    status: OrganisationStatus | None = None,
) -> list[OrganisationOut]:
    query = select(Organisation)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    if status is not None:
        query = query.where(Organisation.status == status)
    return [
        OrganisationOut.of(o, with_details=_may_see_details(participant, o))
        for o in session.exec(query.order_by(Organisation.created_at)).all()  # type: ignore[arg-type]
    ]


@router.get("/{organisation_id}", summary="One organisation")
def get_organisation(
    organisation_id: str, participant: ParticipantDep, session: SessionDep
) -> OrganisationOut:
    organisation = registration.get(session, organisation_id)
    return OrganisationOut.of(
        organisation, with_details=_may_see_details(participant, organisation)
    )


@router.post(
    "/{organisation_id}/approve",
    summary="Market operator: issue the role credential and grant the role on chain",
)
def approve(
    organisation_id: str,
    participant: ParticipantDep,
    platform: PlatformDep,
    session: SessionDep,
    fund: Annotated[Callable[[Address], None] | None, Depends(_funder)],
    body: ApprovalIn | None = None,
) -> OrganisationOut:
    if not participant.is_operator:
        raise ForbiddenError("authorization", "only the market operator approves registrations")
    organisation = registration.approve(
        session,
        platform,
        organisation_id,
        approver=participant.address,
        fund=fund,
        allow_overlap_with=body.allow_overlap_with if body else [],
    )
    return OrganisationOut.of(organisation, with_details=True)


@router.post(
    "/{organisation_id}/revoke",
    status_code=202,
    summary="Market operator: revoke an active organisation's role on chain",
    description="The revocation goes through the outbox; the organisation reads as revoked, "
    "and its sessions are refused for writes, once the chain's RoleRevoked is indexed.",
)
def revoke(
    organisation_id: str, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> OrganisationOut:
    if not participant.is_operator:
        raise ForbiddenError("authorization", "only the market operator revokes roles")
    organisation = registration.revoke(
        session, platform, organisation_id, revoker=participant.address
    )
    return OrganisationOut.of(organisation, with_details=True)


@router.get("/{organisation_id}/credential", summary="The W3C role credential once approved")
def credential(
    organisation_id: str, participant: ParticipantDep, session: SessionDep
) -> dict[str, Any]:
    organisation = registration.get(session, organisation_id)
    if not _may_see_details(participant, organisation) or organisation.credential is None:
        raise ForbiddenError("organisation_id", "no credential you may read")
    document: dict[str, Any] = json.loads(organisation.credential)
    return document
