"""The public order book: open volume per price level, with no maker named.

Orders only trade within one ``(slot_start, slot_count, direction)`` group and a sell only
with a buy at or above its node, so a level is keyed by side, direction, node, slot count
and price. Bids are listed best (highest) first, asks best (lowest) first.
"""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col

from market.db.models import MarketOrder, OrderStatus
from oracle.types import Direction, Side


@dataclass(frozen=True, slots=True)
class DepthLevel:
    side: Side
    direction: Direction
    node_id: int
    slot_count: int
    price_cents_per_mwh: int
    open_w: int  # power still open at this level
    orders: int


def depth(session: Session, market: str, slot_start: int) -> list[DepthLevel]:
    """Aggregated open orders of ``market`` for delivery from ``slot_start``."""
    open_w = func.sum(MarketOrder.power_w - MarketOrder.filled_w)
    keys = (
        col(MarketOrder.side),
        col(MarketOrder.direction),
        col(MarketOrder.node_id),
        col(MarketOrder.slot_count),
        col(MarketOrder.price_cents_per_mwh),
    )
    query = (
        select(*keys, open_w, func.count(col(MarketOrder.id)))
        .where(col(MarketOrder.market) == market)
        .where(col(MarketOrder.slot_start) == slot_start)
        .where(col(MarketOrder.status) == OrderStatus.OPEN)
        .group_by(*keys)
    )
    levels = [
        DepthLevel(Side(side), Direction(direction), node, count, price, int(volume), int(n))
        for side, direction, node, count, price, volume, n in session.connection().execute(query)
    ]
    return sorted(levels, key=_book_position)


def _book_position(level: DepthLevel) -> tuple[int, int, int, int, int]:
    best_first = -level.price_cents_per_mwh if level.side == Side.BUY else level.price_cents_per_mwh
    return (level.side, level.direction, level.node_id, level.slot_count, best_first)
