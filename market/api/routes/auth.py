"""Wallet sign-in: EIP-4361 (Sign-In with Ethereum) in, a session token out."""

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from market.api.deps import ParticipantDep, PlatformDep
from market.auth import issue_session, verify_sign_in
from market.db.models import OrganisationKind, OrganisationStatus
from oracle.identity import format_did
from oracle.types import Role

router = APIRouter(prefix="/auth", tags=["auth"])


class NonceOut(BaseModel):
    nonce: str
    domain: str = Field(description="The domain the EIP-4361 message must name.")
    uri: str
    chain_id: int


class SignIn(BaseModel):
    message: str = Field(min_length=1, max_length=4096, description="The EIP-4361 text.")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="personal_sign of it.")


class SessionOut(BaseModel):
    token: str
    address: str
    expires_at: datetime


class MeOut(BaseModel):
    address: str
    did: str
    organisation_id: str | None
    kind: OrganisationKind | None
    status: OrganisationStatus | None
    roles: list[str]
    is_market_operator: bool


@router.get("/nonce", summary="A single-use nonce for an EIP-4361 message")
def nonce(platform: PlatformDep) -> NonceOut:
    return NonceOut(
        nonce=platform.nonces.issue(),
        domain=platform.auth.domain,
        uri=platform.auth.uri,
        chain_id=platform.chain_id,
    )


@router.post("/sign-in", summary="Exchange a signed EIP-4361 message for a session token")
def sign_in(body: SignIn, platform: PlatformDep) -> SessionOut:
    now = datetime.now(UTC)
    verified = verify_sign_in(
        body.message,
        body.signature,
        expected_domain=platform.auth.domain,
        expected_chain_id=platform.chain_id,
        nonce_store=platform.nonces,
        now=now,
    )
    token = issue_session(
        secret=platform.auth.session_secret,
        address=verified.address,
        chain_id=platform.chain_id,
        now=now,
        ttl=platform.auth.session_ttl,
    )
    return SessionOut(
        token=token, address=verified.address, expires_at=now + platform.auth.session_ttl
    )


@router.get("/me", summary="Who the session belongs to and which roles it holds on chain")
def me(participant: ParticipantDep) -> MeOut:
    organisation = participant.organisation
    return MeOut(
        address=participant.address,
        did=format_did(participant.address, participant.platform.chain_id),
        organisation_id=None if organisation is None else organisation.id,
        kind=None if organisation is None else organisation.kind,
        status=None if organisation is None else organisation.status,
        roles=[role.name for role in Role if participant.holds(role)],
        is_market_operator=participant.is_operator,
    )
