"""Request dependencies: the platform, a database session, the signed-in participant."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.requests import HTTPConnection

from market.api.ratelimit import RateLimiter
from market.auth import AuthError, verify_session
from market.auth import Session as SignedSession
from market.auth.revocation import revocations_of
from market.db.models import Organisation, OrganisationKind, OrganisationStatus
from market.errors import ForbiddenError
from market.platform import Platform
from market.registration import of_address
from oracle.types import Address, Role

_SIGN_IN_FIRST = "sign in first: send 'Authorization: Bearer <session token>'"
bearer = HTTPBearer(auto_error=False, description="Session token from POST /api/v1/auth/sign-in")


def get_platform(connection: HTTPConnection) -> Platform:
    platform: Platform = connection.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_session(platform: PlatformDep) -> Iterator[Session]:
    with Session(platform.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Participant:
    """The signed-in wallet, its organisation (if registered) and the platform."""

    address: Address
    organisation: Organisation | None
    platform: Platform

    @property
    def is_operator(self) -> bool:
        return self.address == self.platform.operator_address

    def holds(self, *roles: Role) -> bool:
        return any(self.platform.has_role(self.address, role) for role in roles)

    def require(self, *roles: Role) -> Organisation:
        """The participant's active organisation, which must hold one of ``roles`` on chain."""
        names = "/".join(role.name for role in roles)
        if not self.holds(*roles):
            raise ForbiddenError(
                "authorization", f"{self.address} does not hold the {names} role on chain"
            )
        if self.organisation is None or self.organisation.status != OrganisationStatus.ACTIVE:
            raise ForbiddenError("authorization", f"{self.address} has no active organisation")
        return self.organisation

    def require_operator(self) -> None:
        if not self.is_operator:
            raise ForbiddenError("authorization", "only the market operator may do this")

    @property
    def kind(self) -> OrganisationKind | None:
        return None if self.organisation is None else self.organisation.kind


def _limiter(connection: HTTPConnection) -> RateLimiter:
    limiter: RateLimiter = connection.app.state.rate_limiter
    return limiter


BEARER_SUBPROTOCOL = "bearer."


def bearer_subprotocol(connection: HTTPConnection) -> str | None:
    """The ``bearer.<token>`` entry of a websocket's ``Sec-WebSocket-Protocol`` header.

    Browsers cannot set an Authorization header on a websocket; a subprotocol keeps the
    token out of the URL, and so out of access logs and proxies' logs."""
    offered = connection.headers.get("sec-websocket-protocol", "")
    for protocol in (part.strip() for part in offered.split(",")):
        if protocol.startswith(BEARER_SUBPROTOCOL) and len(protocol) > len(BEARER_SUBPROTOCOL):
            return protocol
    return None


def websocket_token(connection: HTTPConnection) -> str | None:
    """A websocket's session token: subprotocol ``bearer.<token>``, else ``?token=`` (kept
    for older clients; access logs redact it)."""
    protocol = bearer_subprotocol(connection)
    if protocol is not None:
        return protocol.removeprefix(BEARER_SUBPROTOCOL)
    return connection.query_params.get("token") or None


def _session_token(connection: HTTPConnection) -> str | None:
    """The bearer token of a request; a websocket may carry it in a subprotocol or URL."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token
    if connection.scope["type"] == "websocket":
        return websocket_token(connection)
    return None


def checked_session(platform: Platform, token: str) -> SignedSession:
    """The session ``token`` stands for on this platform: HMAC, times, chain and revocation
    checked, or :class:`AuthError` saying which failed. Every way in (bearer header, edge
    middleware, websocket) goes through here, so a revoked token is refused everywhere."""
    verified = verify_session(token, datetime.now(UTC), secret=platform.auth.session_secret)
    if verified.chain_id != platform.chain_id:
        raise AuthError(f"session is for chain {verified.chain_id}, not {platform.chain_id}")
    if revocations_of(platform).is_revoked(verified):
        raise AuthError("this session was revoked (logged out); sign in again")
    return verified


def token_problem(platform: Platform, token: str | None) -> str | None:
    """Why ``token`` may not call a route that needs a session, or None when it may (the
    edge middleware's check before a body is read)."""
    if token is None:
        return _SIGN_IN_FIRST
    try:
        checked_session(platform, token)
    except AuthError as error:
        return str(error)
    return None


def _signed_in(connection: HTTPConnection, platform: Platform) -> Address | None:
    token = _session_token(connection)
    if token is None:
        return None
    try:
        return checked_session(platform, token).address
    except AuthError:
        return None


def _registered(platform: Platform, address: Address) -> bool:
    """Whether ``address`` holds a role on chain (an approved, active organisation) or is
    the market operator; from the oracle's cached role view, so no query per request."""
    return address == platform.operator_address or any(
        platform.has_role(address, role) for role in Role
    )


def rate_key(connection: HTTPConnection) -> str:
    """Whose token bucket a request spends. A registered participant's own, so that
    participants never share one (several may call from one host or proxy). Anyone else
    spends the client host's bucket: calls without a valid session, and wallets without an
    active organisation, since signing in with a fresh key costs nothing and would
    otherwise give every new key a full bucket."""
    platform = get_platform(connection)
    address = _signed_in(connection, platform)
    if address is not None and _registered(platform, address):
        return f"address:{address}"
    return f"host:{connection.client.host if connection.client else 'unknown'}"


def rate_limited(connection: HTTPConnection) -> None:
    """The app-wide dependency (HTTP and websocket routes): one token per request."""
    _limiter(connection).take(rate_key(connection))


def current_participant(
    platform: PlatformDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Participant:
    if credentials is None:
        raise AuthError(_SIGN_IN_FIRST)
    verified = checked_session(platform, credentials.credentials)
    return Participant(verified.address, of_address(session, verified.address), platform)


def current_session(
    platform: PlatformDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> SignedSession:
    """The verified session of the request's bearer token (logout revokes this one)."""
    if credentials is None:
        raise AuthError(_SIGN_IN_FIRST)
    return checked_session(platform, credentials.credentials)


ParticipantDep = Annotated[Participant, Depends(current_participant)]
SessionTokenDep = Annotated[SignedSession, Depends(current_session)]
