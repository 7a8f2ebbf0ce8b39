"""Registration of system operators, FSPs and auditors, and their approval.

A wallet registers its organisation (company details, and for a system operator its licence
area). The company details stay in the platform's database; what reaches the chain is the
hash of the role credential the market operator issues on approval (a W3C credential,
EIP-712 signed by the operator's did:ethr, whose subject carries the role). The grant is an
outbox message; the organisation becomes active when the chain's ``RoleGranted`` is indexed.
"""

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from market.db.models import Organisation, OrganisationKind, OrganisationStatus
from market.errors import ConflictError, ForbiddenError, MarketValueError, NotFoundError
from market.licence_overlap import overlapping_operators
from market.platform import Platform
from oracle.identity import credential_hash, format_did, issue_role_credential
from oracle.types import Address, Role

ROLE_OF_KIND = {
    OrganisationKind.DSO: Role.DSO,
    OrganisationKind.TSO: Role.TSO,
    OrganisationKind.FSP: Role.FSP,
    OrganisationKind.AUDITOR: Role.AUDITOR,
}
CREDENTIAL_VALIDITY = timedelta(days=365)


class CompanyDetails(BaseModel):
    """What a company tells the market operator; kept off chain, hashed on approval."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, description="Trading name.")
    legal_name: str = Field(min_length=1, max_length=200)
    registration_number: str = Field(min_length=1, max_length=64, description="Company register.")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. DE.")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)


def details_hash(details: CompanyDetails) -> str:
    """keccak256 of the company details as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(
        details.model_dump(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return "0x" + keccak(canonical.encode()).hex()


def register(
    session: Session,
    platform: Platform,
    *,
    address: Address,
    kind: OrganisationKind,
    details: CompanyDetails,
    licence_area_polygon: dict[str, object] | None,
    licence_area_nodes: list[int] | None,
) -> Organisation:
    if session.exec(select(Organisation).where(Organisation.address == address)).first():
        raise ConflictError("address", f"{address} has already registered an organisation")
    is_system_operator = kind in (OrganisationKind.DSO, OrganisationKind.TSO)
    if not is_system_operator and (licence_area_polygon or licence_area_nodes):
        raise MarketValueError("licence_area", "only a DSO or TSO has a licence area")
    organisation = Organisation(
        id=str(uuid.uuid4()),
        kind=kind,
        address=address,
        did=format_did(address, platform.chain_id),
        details_hash=details_hash(details),
        licence_area_polygon=json.dumps(licence_area_polygon) if licence_area_polygon else None,
        licence_area_nodes=json.dumps(sorted(set(licence_area_nodes)))
        if licence_area_nodes
        else None,
        **details.model_dump(),
    )
    # An overlap with another operator's area holds the registration for the operator's
    # decision: it stays pending with the conflict recorded (see approve).
    conflicts = overlapping_operators(session, organisation)
    organisation.licence_conflicts = json.dumps(conflicts) if conflicts else None
    session.add(organisation)
    session.commit()
    session.refresh(organisation)
    return organisation


def approve(
    session: Session,
    platform: Platform,
    organisation_id: str,
    *,
    approver: Address,
    fund: Callable[[Address], None] | None = None,
    allow_overlap_with: Sequence[str] = (),
) -> Organisation:
    """Issue the role credential and publish its grant; only the market operator may.

    A licence area that overlaps other operators' (found again now: areas change) is
    approved only if ``allow_overlap_with`` names every one of them; the decision is kept.
    """
    if approver != platform.operator_address:
        raise ForbiddenError("authorization", "only the market operator approves registrations")
    organisation = get(session, organisation_id)
    if organisation.status != OrganisationStatus.PENDING:
        raise ConflictError("status", f"organisation is {organisation.status}, not pending")
    conflicts = _decided_overlap(session, organisation, allow_overlap_with)
    role = ROLE_OF_KIND[organisation.kind]
    valid_from = datetime.fromtimestamp(platform.now(), UTC)
    with platform.chain_lock:
        credential = issue_role_credential(
            platform.operator,
            organisation.did,
            role,
            valid_from,
            valid_from + CREDENTIAL_VALIDITY,
            platform.chain_id,
            platform.oracle.suite.manifest.address_of("RoleRegistry"),
        )
        hash_hex = "0x" + bytes(credential_hash(credential)).hex()
        platform.oracle.publish(
            "role.grant",
            {
                "identity": organisation.address,
                "role": int(role),
                "credential_hash": hash_hex,
                "valid_from": int(valid_from.timestamp()),
                "valid_until": int((valid_from + CREDENTIAL_VALIDITY).timestamp()),
            },
            sender=platform.operator_address,
            key=f"role:{organisation.id}",
        )
        if fund is not None:
            fund(Address(organisation.address))
    organisation.credential = json.dumps(credential, sort_keys=True)
    organisation.credential_hash = hash_hex
    organisation.licence_conflicts = json.dumps(conflicts) if conflicts else None
    organisation.overlap_accepted = json.dumps(conflicts) if conflicts else None
    organisation.status = OrganisationStatus.APPROVED
    session.add(organisation)
    session.commit()
    session.refresh(organisation)
    return organisation


def _decided_overlap(
    session: Session, organisation: Organisation, allow_overlap_with: Sequence[str]
) -> list[str]:
    """The overlapping operators, each of which the market operator must have accepted."""
    conflicts = overlapping_operators(session, organisation)
    undecided = [other for other in conflicts if other not in set(allow_overlap_with)]
    if undecided:  # a refusal writes nothing; the message names what to decide
        raise ConflictError(
            "allow_overlap_with",
            f"the licence area overlaps that of {', '.join(undecided)}; to approve it anyway, "
            "list every one of them in allow_overlap_with",
        )
    return conflicts


def revoke(
    session: Session, platform: Platform, organisation_id: str, *, revoker: Address
) -> Organisation:
    """Publish the revocation of an active organisation's role; only the market operator may.

    The organisation becomes ``revoked`` when the chain's ``RoleRevoked`` is indexed
    (:mod:`market.sync`), and the platform forgets its cached role answers then, so the
    organisation's sessions are refused for every write from that moment on.
    """
    if revoker != platform.operator_address:
        raise ForbiddenError("authorization", "only the market operator revokes roles")
    organisation = get(session, organisation_id)
    if organisation.status != OrganisationStatus.ACTIVE:
        raise ConflictError(
            "status", f"organisation is {organisation.status}; only an active role is revoked"
        )
    with platform.chain_lock:
        platform.oracle.publish(
            "role.revoke",
            {"identity": organisation.address, "role": int(ROLE_OF_KIND[organisation.kind])},
            sender=platform.operator_address,
            key=f"role-revoke:{organisation.id}:{organisation.credential_hash}",
        )
    return organisation


def get(session: Session, organisation_id: str) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFoundError("organisation_id", f"no organisation {organisation_id}")
    return organisation


def of_address(session: Session, address: Address) -> Organisation | None:
    return session.exec(select(Organisation).where(Organisation.address == address)).first()
