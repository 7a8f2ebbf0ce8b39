"""Activations: what an FSP must deliver for each trade recorded on chain, and pushing them.

:func:`dispatch_new_activations` is the step the platform's pump runs after applying chain
events: every trade with a chain id and no activation yet gets one (the seller's asset, its
power per slot) and is pushed to the FSP's webhooks (a background thread, see
:mod:`market.webhooks`) and to its open websocket streams (:mod:`market.activation_stream`).
FSPs that neither listen nor receive poll :func:`activations_after`.

Each platform has one :class:`ActivationPush` (its delivery thread and its streams), found
with :func:`push_of`.
"""

import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from market.access import Scope
from market.activation_docs import ActivationDocument, document_of, schedule_of
from market.activation_stream import StreamHub
from market.db.models import Activation, ActivationStatus, MarketTrade, Webhook
from market.errors import NotFoundError
from market.webhooks import Delivery, DeliveryPolicy, WebhookSender, WebhookTargets

if TYPE_CHECKING:  # market.platform may call dispatch_new_activations from its pump
    from market.platform import Platform

EVENT = "activation.scheduled"
MAX_PAGE = 1000


class ActivationPush:
    """One platform's push channels: webhook deliveries and websocket streams."""

    def __init__(
        self,
        engine: Engine,
        policy: DeliveryPolicy | None = None,
        targets: WebhookTargets | None = None,
    ) -> None:
        self.engine = engine
        self.webhooks = WebhookSender(engine, policy, targets)
        self.streams = StreamHub()

    def push(self, documents: Sequence[tuple[str, ActivationDocument]]) -> None:
        """Queues webhook deliveries and wakes streams for ``(fsp_id, document)`` pairs."""
        fsp_ids = {fsp_id for fsp_id, _ in documents}
        hooks = self._webhooks(fsp_ids)
        self.webhooks.submit(
            [
                Delivery(document.id, hook.url, hook.secret, webhook_body(document))
                for fsp_id, document in documents
                for hook in hooks.get(fsp_id, [])
            ]
        )
        self.streams.wake(fsp_ids)

    def _webhooks(self, fsp_ids: set[str]) -> dict[str, list[Webhook]]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(Webhook).where(col(Webhook.organisation_id).in_(fsp_ids))
            ).all()
        found: dict[str, list[Webhook]] = {}
        for hook in rows:
            found.setdefault(hook.organisation_id, []).append(hook)
        return found


_PUSHES: dict[int, ActivationPush] = {}


def push_of(platform: "Platform") -> ActivationPush:
    """The platform's push channels, made on first use and dropped with the platform."""
    key = id(platform)
    if key not in _PUSHES:
        _PUSHES[key] = ActivationPush(platform.engine, targets=platform.webhook_targets)
        weakref.finalize(platform, _PUSHES.pop, key, None)
    return _PUSHES[key]


def webhook_body(document: ActivationDocument) -> bytes:
    return json.dumps(
        {"event": EVENT, "activation": document.model_dump(mode="json")},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def dispatch_new_activations(platform: "Platform") -> list[int]:
    """Creates and pushes the activations of newly recorded trades; returns their ids."""
    with Session(platform.engine) as session:
        trades = _recorded_without_activation(session)
        if not trades:
            return []
        activations = [_activation_of(trade) for trade in trades]
        session.add_all(activations)
        try:
            session.commit()
        except IntegrityError:  # another pump created them meanwhile, and pushes them
            session.rollback()
            return []
        documents = [
            (trade.seller_id, document_of(activation, trade))
            for activation, trade in zip(activations, trades, strict=True)
        ]
    push_of(platform).push(documents)
    return [document.id for _, document in documents]


def _recorded_without_activation(session: Session) -> list[MarketTrade]:
    has_activation = select(Activation.trade_id).where(Activation.trade_id == MarketTrade.id)
    query = (
        select(MarketTrade)
        .where(col(MarketTrade.chain_trade_id).is_not(None))
        .where(~has_activation.exists())
        .order_by(col(MarketTrade.id))
    )
    return list(session.exec(query).all())


def _activation_of(trade: MarketTrade) -> Activation:
    assert trade.id is not None
    return Activation(
        trade_id=trade.id,
        fsp_id=trade.seller_id,
        asset=trade.asset,
        direction=trade.direction,
        schedule=schedule_of(trade),
    )


# -- reading and acknowledging ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    since: int = 0  # the last activation id seen; only later ones are returned
    limit: int = 100


def activations_after(engine: Engine, scope: Scope, page: Page) -> list[ActivationDocument]:
    """The activations ``scope`` may read with ids after ``page.since``, oldest first."""
    if not scope.sees_all and scope.organisation_id is None:
        return []
    query = (
        select(Activation, MarketTrade)
        .join(MarketTrade, col(MarketTrade.id) == Activation.trade_id)
        .where(col(Activation.id) > page.since)
    )
    if not scope.sees_all:
        query = query.where(Activation.fsp_id == scope.organisation_id)
    query = query.order_by(col(Activation.id)).limit(min(page.limit, MAX_PAGE))
    with Session(engine) as session:
        return [document_of(a, t) for a, t in session.exec(query).all()]


def acknowledge(session: Session, organisation_id: str, activation_id: int) -> ActivationDocument:
    """The FSP confirms it received the activation (and will deliver it)."""
    activation = session.get(Activation, activation_id)
    if activation is None or activation.fsp_id != organisation_id:
        raise NotFoundError("activation_id", f"no activation {activation_id} of yours")
    activation.status = ActivationStatus.ACKNOWLEDGED
    session.add(activation)
    session.commit()
    session.refresh(activation)
    trade = session.get(MarketTrade, activation.trade_id)
    assert trade is not None
    return document_of(activation, trade)
