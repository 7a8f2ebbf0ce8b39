"""Trades the chain refused to record: marked failed, their fills given back to the orders.

A clearing run writes its trades and their outbox messages together. If the chain then
refuses one for good (its seller lost the FSP role, an order was cancelled on chain), the
trade must not wait for an activation or a settlement that can never come, and the volume
it took from both orders was never sold.
"""

from sqlmodel import Session, col, select

from market.auction import final_status
from market.db.models import MarketOrder, MarketTrade, TradeStatus
from market.platform import Platform
from oracle.outbox.models import MessageStatus, OutboxMessage


def fail_rejected_trades(platform: Platform) -> list[int]:
    """Mark the pending trades whose outbox message was rejected; returns their ids."""
    with Session(platform.engine) as session:
        rejected = session.exec(
            select(MarketTrade, OutboxMessage.last_error)
            .join(OutboxMessage, col(OutboxMessage.key) == col(MarketTrade.outbox_key))
            .where(MarketTrade.status == TradeStatus.PENDING)
            .where(OutboxMessage.status == MessageStatus.REJECTED)
        ).all()
        failed = [trade.id for trade, _ in rejected if trade.id is not None]
        for trade, _reason in rejected:
            trade.status = TradeStatus.FAILED
            session.add(trade)
            for order_id in (trade.buy_order_id, trade.sell_order_id):
                _give_back(session, order_id, trade.power_w)
        session.commit()
        return failed


def _give_back(session: Session, order_id: str, power_w: int) -> None:
    order = session.get(MarketOrder, order_id)
    if order is None:
        return
    order.filled_w = max(0, order.filled_w - power_w)
    order.status = final_status(order.power_w, order.filled_w)
    session.add(order)
