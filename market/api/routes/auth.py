"""Wallet sign-in: EIP-4361 (Sign-In with Ethereum) in, a session token out."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from eth_utils.address import is_checksum_address
from fastapi import APIRouter
from pydantic import BaseModel, Field

from market.api.deps import ParticipantDep, PlatformDep, SessionTokenDep
from market.auth import SiweError, issue_session, verify_session, verify_sign_in
from market.auth.revocation import revocations_of
from market.auth.siwe import DEFAULT_SCHEME
from market.db.models import OrganisationKind, OrganisationStatus
from market.errors import ForbiddenError, MarketValueError
from oracle.identity import format_did
from oracle.types import Address, Role

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"

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
    """The message must name the platform's domain, and a URI on its public URL (scheme,
    host, port); the session ends with the message's Expiration Time if that comes first."""
    now = datetime.now(UTC)
    verified = verify_sign_in(
        body.message,
        body.signature,
        expected_domain=platform.auth.domain,
        expected_chain_id=platform.chain_id,
        nonce_store=platform.nonces,
        now=now,
        expected_scheme=urlsplit(platform.auth.uri).scheme or DEFAULT_SCHEME,
        expected_uri=platform.auth.uri,
    )
    ttl = _session_ttl(platform.auth.session_ttl, verified.expires_at, now)
    token = issue_session(
        secret=platform.auth.session_secret,
        address=verified.address,
        chain_id=platform.chain_id,
        now=now,
        ttl=ttl,
    )
    session = verify_session(token, now, secret=platform.auth.session_secret)
    return SessionOut(token=token, address=verified.address, expires_at=session.expires_at)


def _session_ttl(
    configured: timedelta, message_expiry: datetime | None, now: datetime
) -> timedelta:
    """The configured session length, cut to the whole seconds left before the signed
    message's Expiration Time: a wallet that signed for ten minutes gets ten minutes."""
    if message_expiry is None:
        return configured
    left = timedelta(seconds=int((message_expiry - now.replace(microsecond=0)).total_seconds()))
    if left < timedelta(seconds=1):
        raise SiweError("expiration_time", "the message expires within a second; sign anew")
    return min(configured, left)


class RevokeIn(BaseModel):
    address: str = Field(pattern=ADDRESS_PATTERN, description="The wallet (EIP-55).")


class RevokedOut(BaseModel):
    address: str
    not_before: datetime = Field(description="Sessions issued until then are refused.")


@router.post("/logout", status_code=204, summary="Revoke the session token of this request")
def logout(session: SessionTokenDep, platform: PlatformDep) -> None:
    revocations_of(platform).revoke_token(session)


@router.post(
    "/revoke",
    summary="Market operator (or the wallet itself): revoke every session of a wallet",
)
def revoke(body: RevokeIn, participant: ParticipantDep) -> RevokedOut:
    """Every session of ``address`` issued until now is refused at once; the wallet signs
    in again to continue. For a lost device or key: other wallets may not do this."""
    if not is_checksum_address(body.address):
        raise MarketValueError("address", f"{body.address} is not EIP-55 checksummed")
    address = Address(body.address)
    if not participant.is_operator and participant.address != address:
        raise ForbiddenError("address", "only the market operator may revoke another wallet")
    not_before = revocations_of(participant.platform).revoke_all(
        address, by=participant.address, now=datetime.now(UTC)
    )
    return RevokedOut(address=address, not_before=datetime.fromtimestamp(not_before, UTC))


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
