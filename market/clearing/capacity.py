"""Per-asset capacity: an asset never trades more than its prequalified power per slot.

An FSP may offer one asset in several sells (other prices, other slot blocks, other markets'
leftovers). Placement refuses a new sell that would push the asset's offered power in any
slot past its prequalified up or down power, but a capacity lowered after placement, or a
book loaded from elsewhere, can still oversubscribe an asset. So clearing keeps, per asset and
direction, what each slot has traded (before this clearing and in it) and cuts a sell's fill
to the slot with the least headroom of the slots it covers.

Only *contested* assets are tracked: those whose sells, all filled in full, would exceed the
capacity in some slot. For every other asset the constraint cannot bind, so the common book
pays nothing for it (one pass over the sells that name a capacity).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

from market.clearing.errors import ClearingInputError
from market.clearing.model import ClearingOrder
from oracle.types import SLOT_SECONDS, Side


@dataclass(slots=True)
class AssetCapacity:
    """One asset in one direction: its capacity and the power traded per slot start."""

    capacity_w: int
    used_w: dict[int, int] = field(default_factory=dict)

    def headroom_w(self, slots: range) -> int:
        """What one more trade covering ``slots`` may carry (0 or more)."""
        used = self.used_w
        taken = used.get(slots[0], 0) if len(slots) == 1 else max(map(used.get, slots, _ZEROS))
        return max(0, self.capacity_w - taken)

    def take(self, slots: range, power_w: int) -> None:
        used = self.used_w
        for slot in slots:
            used[slot] = used.get(slot, 0) + power_w


_ZEROS = repeat(0)  # dict.get's default for every slot (an endless iterator, shared)

CappedSell = tuple[AssetCapacity, range]  # the asset's tracker, the sell's slot starts


def contested_sells(
    orders: Sequence[ClearingOrder], open_w: Sequence[int]
) -> dict[int, CappedSell]:
    """Per position of a sell whose asset is contested: its tracker and slots.

    Power already filled (``power_w - open_w``) counts as used from the start; a sell's own
    capacity is the smallest any of the asset's sells names in that direction.
    """
    by_asset: defaultdict[tuple[str, int], list[int]] = defaultdict(list)
    for position, order in enumerate(orders):
        if order.asset_capacity_w is not None:
            _check_capacity(order)
            by_asset[(order.asset.lower(), int(order.direction))].append(position)
    capped: dict[int, CappedSell] = {}
    for positions in by_asset.values():
        capped.update(_contested(orders, open_w, positions))
    return capped


def _check_capacity(order: ClearingOrder) -> None:
    capacity = order.asset_capacity_w
    if order.side is not Side.SELL:
        raise ClearingInputError(
            "asset_capacity_w",
            "must be None for a buy (a buy has no asset)",
            order_id=order.order_id,
        )
    if type(capacity) is not int or capacity < 0:
        raise ClearingInputError(
            "asset_capacity_w", "must be an int >= 0 (W) or None", order_id=order.order_id
        )


def _contested(
    orders: Sequence[ClearingOrder], open_w: Sequence[int], positions: list[int]
) -> dict[int, CappedSell]:
    capacity = min(orders[p].asset_capacity_w or 0 for p in positions)
    offered: defaultdict[int, int] = defaultdict(int)
    slots_of = {p: _slots(orders[p]) for p in positions}
    for position in positions:
        for slot in slots_of[position]:
            offered[slot] += orders[position].power_w
    if max(offered.values()) <= capacity:
        return {}
    tracker = AssetCapacity(capacity)
    for position in positions:
        tracker.take(slots_of[position], orders[position].power_w - open_w[position])
    return {position: (tracker, slots_of[position]) for position in positions}


def _slots(order: ClearingOrder) -> range:
    end = order.slot_start + order.slot_count * SLOT_SECONDS
    return range(order.slot_start, end, SLOT_SECONDS)
