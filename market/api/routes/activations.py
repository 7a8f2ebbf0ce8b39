"""Activations for FSPs: polling, acknowledging, a websocket stream, and webhooks.

Every channel carries the same JSON: ``{"event": "activation.scheduled", "activation":
{...}}`` on the stream and in webhook bodies, the bare activation when polling.
"""

import asyncio
from contextlib import suppress
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from market import activation, webhooks
from market.access import Scope
from market.activation import Page, push_of, webhook_body
from market.activation_docs import ActivationDocument
from market.api.deps import (
    Participant,
    ParticipantDep,
    PlatformDep,
    SessionDep,
    bearer_subprotocol,
    checked_session,
    websocket_token,
)
from market.api.links import WEBHOOK_REGISTERED
from market.db.models import Webhook
from market.errors import MarketError
from market.platform import Platform
from market.registration import of_address
from oracle.types import Role

router = APIRouter(tags=["activations"])

MAX_ID = 2**63 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
POLICY_VIOLATION = 1008  # websocket close code: authentication failed
FIRST_MESSAGE_S = 10.0  # how long a stream waits for {"token": ...} when none is in the URL
POLL_S = 5.0  # a stream also looks for new activations this often (e.g. another process's)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Plain text, checked by market.webhooks.check_target as written: a URL parser that
    # normalises first would turn "http://2130706433/" into "http://127.0.0.1/" unseen.
    url: str = Field(
        min_length=1,
        max_length=500,
        description="An http(s) URL on a public host name (no IP literal, no user info); "
        "receives POST application/json with X-Flexledger-Signature.",
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    created_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> "WebhookOut":
        assert webhook.id is not None
        return cls(id=webhook.id, url=webhook.url, created_at=webhook.created_at)


class NewWebhookOut(WebhookOut):
    secret: str = Field(
        description="Shown once: X-Flexledger-Signature is sha256=HMAC-SHA256(secret, body)."
    )


def activation_scope(participant: Participant) -> Scope:
    """FSPs read their own activations; the market operator and auditors read all."""
    if participant.is_operator or participant.holds(Role.AUDITOR):
        return Scope(participant.organisation, sees_all=True)
    return Scope(participant.require(Role.FSP))


@router.get("/activations", summary="Your activations after the id you saw last")
def list_activations(
    participant: ParticipantDep,
    platform: PlatformDep,
    since: Annotated[int, Query(ge=0, le=2**63 - 1, description="Last activation id seen.")] = 0,
    limit: Annotated[int, Query(ge=1, le=activation.MAX_PAGE)] = 100,
) -> list[ActivationDocument]:
    scope = activation_scope(participant)
    return activation.activations_after(platform.engine, scope, Page(since, limit))


@router.post("/activations/{activation_id}/acknowledge", summary="FSP: confirm receipt")
def acknowledge(
    activation_id: IdPath, participant: ParticipantDep, session: SessionDep
) -> ActivationDocument:
    organisation = participant.require(Role.FSP)
    return activation.acknowledge(session, organisation.id, activation_id)


@router.post(
    "/webhooks",
    status_code=201,
    summary="FSP: register a webhook for activations",
    responses=WEBHOOK_REGISTERED,
)
def register_webhook(
    body: WebhookIn, participant: ParticipantDep, platform: PlatformDep, session: SessionDep
) -> NewWebhookOut:
    organisation = participant.require(Role.FSP)
    webhook = webhooks.register_webhook(session, organisation, body.url, platform.webhook_targets)
    return NewWebhookOut(**WebhookOut.of(webhook).model_dump(), secret=webhook.secret)


@router.get("/webhooks", summary="FSP: your webhooks (without their secrets)")
def list_webhooks(participant: ParticipantDep, session: SessionDep) -> list[WebhookOut]:
    organisation = participant.require(Role.FSP)
    return [WebhookOut.of(hook) for hook in webhooks.webhooks_of(session, organisation.id)]


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="FSP: delete a webhook")
def delete_webhook(webhook_id: IdPath, participant: ParticipantDep, session: SessionDep) -> None:
    organisation = participant.require(Role.FSP)
    webhooks.delete_webhook(session, organisation.id, webhook_id)


@router.websocket("/activations/stream", name="activation_stream")
async def stream(websocket: WebSocket) -> None:
    """``GET /activations/stream`` (websocket): new activations as they are created.

    Authenticate with the subprotocol ``bearer.<session token>`` (kept out of URLs and
    logs), a first message ``{"token": ...}``, or ``?token=`` (older clients; redacted
    from access logs);
    ``?since=<activation id>`` replays the later ones first. A refused session closes the
    socket with 1008 and the reason; the app's rate limit refuses the handshake with 429.
    """
    platform: Platform = websocket.app.state.platform
    await websocket.accept(subprotocol=bearer_subprotocol(websocket))
    try:
        since = _since(websocket.query_params.get("since", "0"))
        token = websocket_token(websocket) or await _first_token(websocket)
        scope = await run_in_threadpool(_stream_scope, platform, token)
    except WebSocketDisconnect:
        return
    except (MarketError, ValueError, TimeoutError) as error:
        await websocket.close(code=POLICY_VIOLATION, reason=str(error)[:120])
        return
    with suppress(WebSocketDisconnect):  # the client left while we were sending
        await _serve(websocket, platform, scope, since)


def _since(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_ID:
        raise ValueError(f"since must be an activation id, 0 to {MAX_ID}")
    return int(text)


async def _first_token(websocket: WebSocket) -> str:
    message: Any = await asyncio.wait_for(websocket.receive_json(), FIRST_MESSAGE_S)
    token = message.get("token") if isinstance(message, dict) else None
    if not isinstance(token, str):
        raise ValueError('send {"token": "<session token>"} first')
    return token


def _stream_scope(platform: Platform, token: str) -> Scope:
    verified = checked_session(platform, token)  # signature, chain and revocation
    with Session(platform.engine) as session:
        organisation = of_address(session, verified.address)
    return activation_scope(Participant(verified.address, organisation, platform))


async def _serve(websocket: WebSocket, platform: Platform, scope: Scope, since: int) -> None:
    hub = push_of(platform).streams
    wake = asyncio.Event()
    key = hub.subscribe(None if scope.sees_all else scope.organisation_id, wake)
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        while True:
            wake.clear()  # before reading, so a wake-up during the read is not lost
            since = await _send_new(websocket, platform, scope, since)
            if await _closed(receiver, wake):
                return
            if receiver.done():  # the client said something; streams ignore it
                receiver = asyncio.ensure_future(websocket.receive())
    finally:
        hub.unsubscribe(key)
        receiver.cancel()


async def _send_new(websocket: WebSocket, platform: Platform, scope: Scope, since: int) -> int:
    page = Page(since, activation.MAX_PAGE)
    documents = await run_in_threadpool(activation.activations_after, platform.engine, scope, page)
    for document in documents:
        await websocket.send_text(webhook_body(document).decode())
        since = document.id
    return since


async def _closed(receiver: "asyncio.Future[Any]", wake: asyncio.Event) -> bool:
    """Waits for a wake-up, a client message or the poll interval; True once disconnected."""
    waiter = asyncio.ensure_future(wake.wait())
    await asyncio.wait({receiver, waiter}, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    return receiver.done() and receiver.result().get("type") == "websocket.disconnect"
