"""Independent yardsticks for the clearing engine, written for clarity, not speed.

* :func:`replay_on_contract_rules` replays trades through the checks ``FlexMarket._recordTrade``
  makes (``_checkMatch``, ``_checkFill``) and returns the first violation, if any;
* :func:`reference_clear` is the engine's matching rule done the slow, obvious way: every buy
  against every sell, a tree walk per pair, no ladders, no pruning; every asset's power per
  slot and direction tracked, contested or not.
"""

from collections.abc import Mapping, Sequence

from market.clearing import ClearingOrder, PricingRule
from oracle.types import SLOT_SECONDS, Side

TradeRow = tuple[str, str, int, int]  # buy id, sell id, power_w, price
SlotKey = tuple[str, int, int]  # asset (lower case), direction, slot start


def slot_keys(order: ClearingOrder) -> list[SlotKey]:
    """The (asset, direction, slot) cells a sell's power occupies."""
    return [
        (order.asset.lower(), int(order.direction), order.slot_start + index * SLOT_SECONDS)
        for index in range(order.slot_count)
    ]


class AssetUse:
    """Power per (asset, direction, slot): what was filled before, then what trades."""

    def __init__(self, orders: Sequence[ClearingOrder], filled_w: Mapping[str, int]) -> None:
        self.used: dict[SlotKey, int] = {}
        self.capacity: dict[tuple[str, int], int] = {}
        for order in orders:
            if order.side is Side.SELL and order.asset_capacity_w is not None:
                key = (order.asset.lower(), int(order.direction))
                known = self.capacity.get(key, order.asset_capacity_w)
                self.capacity[key] = min(known, order.asset_capacity_w)
        for order in orders:
            if order.side is Side.SELL:
                self.take(order, filled_w.get(order.order_id, 0))

    def headroom(self, sell: ClearingOrder) -> int | None:
        """What the sell's asset can still trade in all of the sell's slots (None: no cap)."""
        capacity = self.capacity.get((sell.asset.lower(), int(sell.direction)))
        if capacity is None:
            return None
        return max(0, capacity - max(self.used.get(key, 0) for key in slot_keys(sell)))

    def take(self, sell: ClearingOrder, power_w: int) -> None:
        for key in slot_keys(sell):
            self.used[key] = self.used.get(key, 0) + power_w


def is_at_or_below(node: int, ancestor: int, parent_of: Mapping[int, int | None]) -> bool:
    """``GridRegistry.isAtOrBelow``: walk up from ``node``."""
    current: int | None = node
    while current is not None:
        if current == ancestor:
            return True
        current = parent_of[current]
    return False


def replay_on_contract_rules(
    orders: Sequence[ClearingOrder],
    trades: Sequence[TradeRow],
    parent_of: Mapping[int, int | None],
    filled_w: Mapping[str, int],
    now_s: int,
) -> str | None:
    """The first trade the contract would revert, as a message; ``None`` if all pass."""
    by_id = {order.order_id: order for order in orders}
    filled = {order.order_id: filled_w.get(order.order_id, 0) for order in orders}
    for buy_id, sell_id, power_w, price in trades:
        buy, sell = by_id[buy_id], by_id[sell_id]
        problem = _match_problem(buy, sell, price, parent_of, now_s)
        problem = problem or _fill_problem(buy, power_w, filled)
        problem = problem or _fill_problem(sell, power_w, filled)
        if problem:
            return f"{buy_id}/{sell_id} {power_w} W @ {price}: {problem}"
        filled[buy_id] += power_w
        filled[sell_id] += power_w
    return None


def _match_problem(
    buy: ClearingOrder,
    sell: ClearingOrder,
    price: int,
    parent_of: Mapping[int, int | None],
    now_s: int,
) -> str | None:
    if buy.side is not Side.BUY or sell.side is not Side.SELL:
        return "WrongSide"
    if min(buy.expiry, sell.expiry) <= now_s:
        return "OrderExpired"
    if (buy.slot_start, buy.slot_count) != (sell.slot_start, sell.slot_count):
        return "SlotMismatch"
    if buy.direction != sell.direction:
        return "DirectionMismatch"
    if not sell.price_cents_per_mwh <= price <= buy.price_cents_per_mwh:
        return "PriceOutOfRange"
    if not is_at_or_below(sell.node_id, buy.node_id, parent_of):
        return "AssetNotBelowNode"
    return None


def _fill_problem(order: ClearingOrder, power_w: int, filled: dict[str, int]) -> str | None:
    remaining = order.power_w - filled[order.order_id]
    if power_w == 0:
        return "ZeroFill"
    if power_w > remaining:
        return f"FillExceedsRemaining({order.order_id})"
    if not order.divisible and power_w != order.power_w:
        return f"IndivisibleFill({order.order_id})"
    if power_w < order.min_power_w and power_w != remaining:
        return f"FillBelowMinimum({order.order_id})"
    return None


def reference_clear(
    orders: Sequence[ClearingOrder],
    parent_of: Mapping[int, int | None],
    pricing: PricingRule,
    now_s: int,
    filled_w: Mapping[str, int],
) -> list[TradeRow]:
    """The engine's rules, the slow way; trades in the engine's order."""
    remaining = {o.order_id: o.power_w - filled_w.get(o.order_id, 0) for o in orders}
    live = [o for o in orders if o.expiry > now_s and remaining[o.order_id] > 0]
    keys = sorted({(o.slot_start, o.slot_count, int(o.direction)) for o in live})
    use = AssetUse(orders, filled_w)
    trades: list[TradeRow] = []
    for key in keys:
        group = [o for o in live if (o.slot_start, o.slot_count, int(o.direction)) == key]
        trades += _reference_group(group, parent_of, pricing, remaining, use)
    return trades


def _reference_group(
    group: list[ClearingOrder],
    parent_of: Mapping[int, int | None],
    pricing: PricingRule,
    remaining: dict[str, int],
    use: AssetUse,
) -> list[TradeRow]:
    buys = sorted(
        (o for o in group if o.side is Side.BUY),
        key=lambda o: (-o.price_cents_per_mwh, o.order_id),
    )
    sells = sorted(
        (o for o in group if o.side is Side.SELL),
        key=lambda o: (o.price_cents_per_mwh, o.order_id),
    )
    highest_ask: dict[int, int] = {}
    matched: list[tuple[ClearingOrder, ClearingOrder, int]] = []
    for buy in buys:
        if pricing is PricingRule.PAY_AS_CLEAR and buy.price_cents_per_mwh < highest_ask.get(
            buy.node_id, -1
        ):
            continue
        for sell in sells:
            fill = _reference_fill(buy, sell, parent_of, remaining, use.headroom(sell))
            if fill:
                use.take(sell, fill)
                matched.append((buy, sell, fill))
                remaining[buy.order_id] -= fill
                remaining[sell.order_id] -= fill
                ask = sell.price_cents_per_mwh
                highest_ask[buy.node_id] = max(ask, highest_ask.get(buy.node_id, -1))
            if remaining[buy.order_id] == 0:
                break
    return [
        (b.order_id, s.order_id, fill, _reference_price(b, s, pricing, highest_ask))
        for b, s, fill in matched
    ]


def _reference_fill(
    buy: ClearingOrder,
    sell: ClearingOrder,
    parent_of: Mapping[int, int | None],
    remaining: dict[str, int],
    headroom_w: int | None,
) -> int:
    """The fill this pair would trade now, 0 if none."""
    if sell.price_cents_per_mwh > buy.price_cents_per_mwh:
        return 0
    if not is_at_or_below(sell.node_id, buy.node_id, parent_of):
        return 0
    open_b, open_s = remaining[buy.order_id], remaining[sell.order_id]
    fill = min(open_b, open_s, open_s if headroom_w is None else headroom_w)
    if fill == 0:
        return 0
    if fill < buy.min_power_w and fill != open_b:
        return 0
    if fill < sell.min_power_w and fill != open_s:
        return 0
    return fill


def _reference_price(
    buy: ClearingOrder, sell: ClearingOrder, pricing: PricingRule, highest_ask: dict[int, int]
) -> int:
    if pricing is PricingRule.PAY_AS_CLEAR:
        return highest_ask[buy.node_id]
    return sell.price_cents_per_mwh
