"""Reading orders: a participant reads its own organisation's orders, the market operator and
auditors read every order; an order someone may not read does not exist for them (404)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from market.access import Scope
from market.db.models import MarketOrder, OrderExplanation, OrderStatus
from market.errors import NotFoundError

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class OrderFilter:
    market: str | None = None
    status: OrderStatus | None = None
    slot_from: int | None = None  # unix s, inclusive
    slot_to: int | None = None  # unix s, exclusive
    limit: int = 100
    offset: int = 0


def visible_orders(session: Session, scope: Scope, where: OrderFilter) -> list[MarketOrder]:
    """The orders ``scope`` may read that match ``where``, newest delivery first."""
    if not scope.sees_all and scope.organisation_id is None:
        return []
    query = select(MarketOrder)
    if not scope.sees_all:
        query = query.where(MarketOrder.organisation_id == scope.organisation_id)
    if where.market is not None:
        query = query.where(MarketOrder.market == where.market)
    if where.status is not None:
        query = query.where(MarketOrder.status == where.status)
    if where.slot_from is not None:
        query = query.where(MarketOrder.slot_start >= where.slot_from)
    if where.slot_to is not None:
        query = query.where(MarketOrder.slot_start < where.slot_to)
    query = query.order_by(col(MarketOrder.slot_start).desc(), col(MarketOrder.id))
    return list(session.exec(query.offset(where.offset).limit(min(where.limit, MAX_PAGE))).all())


def visible_order(session: Session, scope: Scope, order_id: str) -> MarketOrder:
    order = session.get(MarketOrder, order_id)
    if order is None or not (scope.sees_all or order.organisation_id == scope.organisation_id):
        raise NotFoundError("order_hash", f"no order {order_id} that you may read")
    return order


def latest_explanations(session: Session, order_ids: Sequence[str]) -> dict[str, OrderExplanation]:
    """The explanation of each order's latest clearing run, for orders cleared at all."""
    if not order_ids:
        return {}
    query = (
        select(OrderExplanation)
        .where(col(OrderExplanation.order_id).in_(list(order_ids)))
        .order_by(col(OrderExplanation.run_id))
    )
    return {row.order_id: row for row in session.exec(query).all()}
