"""Which units deliver a sold bid (seed UC 3.3): cheapest first, with a reserve margin.

Given the sold bid (a constant power over a block of slots) and the FSP's assets below the
bid's node, each unit's capacity is the largest constant power it can add over the block on
top of what it already committed to earlier trades. Units are taken in order of marginal
price (then asset id), each for ``min(capacity, still needed)``, until the plan covers the
bid plus ``reserve_pct`` (spare power against units that under-deliver); an all-or-nothing
unit (an EV) is taken whole or not at all. This greedy order is optimal for divisible units
with linear costs (a fractional knapsack); with all-or-nothing units it may overshoot, and
that is accepted. When even every unit together cannot reach the bid's power, the bid is
infeasible and nothing is planned.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from flexibility.errors import FlexibilityInputError, InfeasibleError
from flexibility.limits import block
from flexibility.portfolio import FleetAsset
from flexibility.profile import SLOTS_PER_DAY, Activation
from oracle.types import SLOT_SECONDS, Direction


@dataclass(frozen=True, slots=True)
class SoldBid:
    """A trade the FSP must deliver, in the contract's units."""

    node_id: int
    direction: Direction
    slot_start: int
    slot_count: int
    power_w: int


@dataclass(frozen=True, slots=True)
class UnitDispatch:
    """One unit's share of a bid: a constant ``power_w`` over the bid's slots."""

    asset_id: str
    power_w: int
    price_cents_per_mwh: int


@dataclass(frozen=True, slots=True)
class Selection:
    """The plan: units in the order chosen; ``planned_w - bid.power_w`` is the reserve."""

    bid: SoldBid
    first_slot: int
    units: tuple[UnitDispatch, ...]

    @property
    def planned_w(self) -> int:
        return sum(unit.power_w for unit in self.units)

    @property
    def reserve_w(self) -> int:
        return self.planned_w - self.bid.power_w

    def activation(self, asset_id: str) -> dict[int, int]:
        """The activation (slot index -> W) of one asset; empty if it was not chosen."""
        for unit in self.units:
            if unit.asset_id == asset_id:
                return block(self.bid.direction, self.first_slot, self.bid.slot_count, unit.power_w)
        return {}


def select_units(
    bid: SoldBid,
    assets: Sequence[FleetAsset],
    *,
    day_start_s: int,
    reserve_pct: float = 10.0,
    committed: Mapping[str, Activation] | None = None,
) -> Selection:
    """The cheapest plan covering ``bid`` plus the reserve; raises when the bid cannot be met.

    ``committed`` holds activations the assets already carry (earlier trades of the day).
    """
    first_slot = _first_slot(bid, day_start_s)
    if reserve_pct < 0:
        raise FlexibilityInputError("reserve_pct", f"{reserve_pct} must not be negative")
    target_w = math.ceil(bid.power_w * (1 + Fraction(str(reserve_pct)) / 100))
    units: list[UnitDispatch] = []
    for asset in sorted(assets, key=lambda a: (_price(a, bid), a.asset_id)):
        needed_w = target_w - sum(unit.power_w for unit in units)
        if needed_w <= 0:
            break
        power_w = _share(asset, bid, first_slot, needed_w, (committed or {}).get(asset.asset_id))
        if power_w > 0:
            units.append(UnitDispatch(asset.asset_id, power_w, _price(asset, bid)))
    selection = Selection(bid, first_slot, tuple(units))
    if selection.planned_w < bid.power_w:
        raise InfeasibleError(
            "power_w",
            f"the {len(assets)} assets below node {bid.node_id} can deliver "
            f"{selection.planned_w} W over slots {first_slot}..{first_slot + bid.slot_count - 1}"
            f", {bid.power_w - selection.planned_w} W short of the {bid.power_w} W sold",
        )
    return selection


def _share(
    asset: FleetAsset,
    bid: SoldBid,
    first_slot: int,
    needed_w: int,
    committed: Activation | None,
) -> int:
    capacity_w = asset.model.max_block_w(bid.direction, first_slot, bid.slot_count, committed)
    if asset.model.all_or_nothing:
        return capacity_w
    return min(capacity_w, needed_w)


def _price(asset: FleetAsset, bid: SoldBid) -> int:
    return asset.model.marginal_price_cents_per_mwh(bid.direction)


def _first_slot(bid: SoldBid, day_start_s: int) -> int:
    offset = bid.slot_start - day_start_s
    if offset % SLOT_SECONDS or day_start_s % SLOT_SECONDS:
        raise FlexibilityInputError("slot_start", f"{bid.slot_start} is not a slot start")
    first = offset // SLOT_SECONDS
    if bid.slot_count < 1 or first < 0 or first + bid.slot_count > SLOTS_PER_DAY:
        raise FlexibilityInputError(
            "slot_start", f"the bid's {bid.slot_count} slots from index {first} leave the day"
        )
    if bid.power_w <= 0:
        raise FlexibilityInputError("power_w", f"{bid.power_w} must be positive")
    return first
