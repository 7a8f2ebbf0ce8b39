"""Factories for clearing tests: a canned grid, buys and sells with defaults, one call to clear.

The grid (node -> parent)::

    1 (HV/MV substation)
    ├── 10 (MV feeder A) ── 11, 12 (LV feeders)
    └── 20 (MV feeder B) ── 21 (LV feeder) ── 22 (LV branch)
"""

import zlib
from collections.abc import Mapping

from market.clearing import ClearingOrder, ClearingResult, GridTopology, PricingRule, clear
from oracle.types import Direction, Side

GRID: dict[int, int | None] = {1: None, 10: 1, 11: 10, 12: 10, 20: 1, 21: 20, 22: 21}
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, a slot start
NOW = T0 - 3_600  # clearing runs an hour before the slot
LATER = T0 + 86_400
ZERO_ADDRESS = "0x" + "0" * 40


def buy(
    order_id: str,
    *,
    node: int = 10,
    price: int = 20_000,
    power_w: int = 10_000,
    min_power_w: int | None = None,
    divisible: bool = True,
    slot_start: int = T0,
    slot_count: int = 1,
    direction: Direction = Direction.UP,
    expiry: int = LATER,
) -> ClearingOrder:
    """A DSO buy; an all-or-nothing one gets ``min_power_w = power_w`` unless told."""
    return ClearingOrder(
        order_id=order_id,
        maker="0x" + "d5" * 20,
        side=Side.BUY,
        direction=direction,
        node_id=node,
        asset=ZERO_ADDRESS,
        slot_start=slot_start,
        slot_count=slot_count,
        power_w=power_w,
        min_power_w=_minimum(min_power_w, power_w, divisible),
        divisible=divisible,
        price_cents_per_mwh=price,
        nonce=zlib.crc32(order_id.encode()),
        expiry=expiry,
        asset_node_id=None,
    )


def sell(
    order_id: str,
    *,
    node: int = 11,
    price: int = 10_000,
    power_w: int = 10_000,
    min_power_w: int | None = None,
    divisible: bool = True,
    slot_start: int = T0,
    slot_count: int = 1,
    direction: Direction = Direction.UP,
    expiry: int = LATER,
    asset: str = "0x" + "a5" * 20,
    capacity_w: int | None = None,
) -> ClearingOrder:
    """An FSP sell whose asset the registry confirmed at ``node`` (with ``capacity_w`` W
    prequalified in ``direction``, if given)."""
    return ClearingOrder(
        order_id=order_id,
        maker="0x" + "f5" * 20,
        side=Side.SELL,
        direction=direction,
        node_id=node,
        asset=asset,
        slot_start=slot_start,
        slot_count=slot_count,
        power_w=power_w,
        min_power_w=_minimum(min_power_w, power_w, divisible),
        divisible=divisible,
        price_cents_per_mwh=price,
        nonce=zlib.crc32(order_id.encode()),
        expiry=expiry,
        asset_node_id=node,
        asset_capacity_w=capacity_w,
    )


def _minimum(min_power_w: int | None, power_w: int, divisible: bool) -> int:
    if min_power_w is not None:
        return min_power_w
    return 0 if divisible else power_w


def run(
    *orders: ClearingOrder,
    pricing: PricingRule = PricingRule.PAY_AS_BID,
    filled_w: Mapping[str, int] | None = None,
    grid: Mapping[int, int | None] = GRID,
    now_s: int = NOW,
) -> ClearingResult:
    return clear(list(orders), GridTopology(grid), pricing, now_s=now_s, filled_w=filled_w)


def trade_rows(result: ClearingResult) -> list[tuple[str, str, int, int]]:
    """Trades as plain tuples, in clearing order."""
    return [(t.buy_id, t.sell_id, t.power_w, t.price_cents_per_mwh) for t in result.trades]
