"""Selling one asset several times: the power an asset offers per slot and direction.

An asset's prequalified up and down power bounds what all its sells together may offer in
any one slot, not each sell alone: two 40 kW offers of a 50 kW battery in one slot would
sell flexibility that does not exist. Placement therefore sums, per (asset, direction, slot),
the power of the asset's sells that still hold it (an open order its whole power, a cleared
one what it traded) across every market, adds the new orders and refuses the first that
goes past the capacity (422 naming ``order.power_w``, with the numbers).

Race safety: two requests for one asset may both pass that check before either is stored.
So :func:`recheck` repeats it inside the storing transaction after the rows are inserted:
in a request's own transaction with the asset rows locked (:func:`lock_assets`:
``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer, and the inserted rows hold
its write lock), or in the group commit's (:mod:`market.intake`, the entry's ``check``).
The later request sees the earlier one's orders and is refused with 409. Clearing
enforces the same bound again per slot (:mod:`market.clearing.capacity`).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from market.db.models import Asset, MarketOrder, OrderStatus
from market.errors import ConflictError, MarketValueError
from oracle.eip712 import Order
from oracle.types import SLOT_SECONDS, Direction, Side

MAX_ORDER_SLOTS = 96  # market.orders.MAX_SLOTS: the longest order a window must reach back to
HOLDING = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)


Cell = tuple[str, int]  # asset (lower case), direction


@dataclass(slots=True)
class OfferedPower:
    """Power per (asset, direction) and slot start that sells already hold, W."""

    offered_w: defaultdict[Cell, defaultdict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def add(self, order: Order, power_w: int) -> None:
        slots = self.offered_w[_cell(order)]
        for slot in _slots(order):
            slots[slot] += power_w

    def fullest(self, order: Order) -> tuple[int, int]:
        """The slot of ``order`` whose asset already holds the most power, and that power."""
        slots = self.offered_w[_cell(order)]
        fullest, held_w = order.slot_start, -1
        for slot in _slots(order):
            if slots.get(slot, 0) > held_w:
                fullest, held_w = slot, slots.get(slot, 0)
        return fullest, held_w

    def check(self, order: Order, capacity_w: int, at: str) -> None:
        """Raises 422 naming ``at`` if ``order`` would push its asset past ``capacity_w``
        in one of its slots; else counts it (a batch's later orders see it)."""
        problem = self.problem(order, capacity_w)
        if problem:
            raise MarketValueError(at, problem)
        self.add(order, order.power_w)

    def problem(self, order: Order, capacity_w: int) -> str | None:
        slot, held_w = self.fullest(order)
        if held_w + order.power_w <= capacity_w:
            return None
        direction = Direction(order.direction).name.lower()
        return (
            f"{order.power_w} W on top of the {held_w} W that asset {order.asset} already "
            f"offers {direction} in the slot at {_iso(slot)} exceeds its prequalified "
            f"{direction} capacity of {capacity_w} W (free: {max(0, capacity_w - held_w)} W)"
        )


def offered_power(session: Session, orders: Sequence[Order]) -> OfferedPower:
    """What the stored sells of the assets of ``orders`` hold in the orders' slots."""
    sells = [order for order in orders if order.side == Side.SELL]
    held = OfferedPower()
    if not sells:
        return held
    first = min(order.slot_start for order in sells) - (MAX_ORDER_SLOTS - 1) * SLOT_SECONDS
    end = max(order.slot_start + order.slot_count * SLOT_SECONDS for order in sells)
    query = (
        select(MarketOrder)
        .where(col(MarketOrder.asset).in_({order.asset for order in sells}))
        .where(MarketOrder.side == int(Side.SELL))
        .where(col(MarketOrder.status).in_(HOLDING))
        .where(MarketOrder.slot_start >= first)
        .where(MarketOrder.slot_start < end)
    )
    for row in session.exec(query).all():
        power_w = row.power_w if row.status == OrderStatus.OPEN else row.filled_w
        held.add(Order.from_attributes(row), power_w)
    return held


def recheck(
    session: Session, orders: Sequence[Order], capacities: dict[str, Asset], field_name: str
) -> None:
    """Inside the storing transaction, after the insert: the stored sells (these orders
    among them) within every capacity, else 409 (a concurrent request took the power)."""
    held = offered_power(session, orders)
    for order in orders:
        if order.side != Side.SELL:
            continue
        asset = capacities[order.asset.lower()]
        capacity_w = asset.up_w if order.direction == Direction.UP else asset.down_w
        slot, held_w = held.fullest(order)
        if held_w > capacity_w:
            raise ConflictError(
                field_name,
                f"asset {order.asset} was offered meanwhile by another request: {held_w} W "
                f"in the slot at {_iso(slot)} would exceed its prequalified {capacity_w} W",
            )


def lock_assets(session: Session, asset_ids: Iterable[str]) -> None:
    """Row locks on the assets for the rest of the transaction (PostgreSQL; a no-op on
    SQLite, whose single writer serialises), in id order so two requests cannot deadlock."""
    ids = sorted(set(asset_ids))
    if ids:
        query = select(Asset.id).where(col(Asset.id).in_(ids)).order_by(col(Asset.id))
        session.exec(query.with_for_update()).all()


def _cell(order: Order) -> Cell:
    return order.asset.lower(), int(order.direction)


def _slots(order: Order) -> range:
    return range(order.slot_start, order.slot_start + order.slot_count * SLOT_SECONDS, SLOT_SECONDS)


def _iso(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat()
