"""Reading trades and clearing runs: a participant reads the trades it is a side of and its
own orders' explanations; the market operator and auditors read everything. A clearing
run's summary (market, period, counts) is visible to every participant."""

from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, col, select

from market.access import Scope
from market.db.models import (
    ClearingRun,
    MarketOrder,
    MarketTrade,
    OrderExplanation,
    TradeStatus,
)
from market.errors import NotFoundError

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class TradeFilter:
    run_id: int | None = None
    status: TradeStatus | None = None
    limit: int = 100
    offset: int = 0


def visible_trades(session: Session, scope: Scope, where: TradeFilter) -> list[MarketTrade]:
    if not scope.sees_all and scope.organisation_id is None:
        return []
    query = select(MarketTrade)
    if not scope.sees_all:
        query = query.where(
            or_(
                col(MarketTrade.buyer_id) == scope.organisation_id,
                col(MarketTrade.seller_id) == scope.organisation_id,
            )
        )
    if where.run_id is not None:
        query = query.where(MarketTrade.run_id == where.run_id)
    if where.status is not None:
        query = query.where(MarketTrade.status == where.status)
    query = query.order_by(col(MarketTrade.id)).offset(where.offset)
    return list(session.exec(query.limit(min(where.limit, MAX_PAGE))).all())


def visible_trade(session: Session, scope: Scope, trade_id: int) -> MarketTrade:
    trade = session.get(MarketTrade, trade_id)
    if trade is None or not (
        scope.sees_all or scope.organisation_id in (trade.buyer_id, trade.seller_id)
    ):
        raise NotFoundError("trade_id", f"no trade {trade_id} that you may read")
    return trade


def clearing_runs(
    session: Session, market: str | None, limit: int, offset: int
) -> list[ClearingRun]:
    query = select(ClearingRun)
    if market is not None:
        query = query.where(ClearingRun.market == market)
    query = query.order_by(col(ClearingRun.id).desc()).offset(offset)
    return list(session.exec(query.limit(min(limit, MAX_PAGE))).all())


def clearing_run(session: Session, run_id: int) -> ClearingRun:
    run = session.get(ClearingRun, run_id)
    if run is None:
        raise NotFoundError("run_id", f"no clearing run {run_id}")
    return run


def visible_explanations(session: Session, scope: Scope, run_id: int) -> list[OrderExplanation]:
    """The run's explanations of the orders ``scope`` may read."""
    if not scope.sees_all and scope.organisation_id is None:
        return []
    query = select(OrderExplanation).where(OrderExplanation.run_id == run_id)
    if not scope.sees_all:
        own = select(MarketOrder.id).where(MarketOrder.organisation_id == scope.organisation_id)
        query = query.where(col(OrderExplanation.order_id).in_(own))
    return list(session.exec(query.order_by(col(OrderExplanation.order_id))).all())
