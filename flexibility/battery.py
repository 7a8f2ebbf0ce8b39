"""A home battery: power and state-of-charge limits, losses, degradation cost.

State of charge (SoC) is a fraction of ``capacity_kwh``. ``efficiency`` is round trip, split
evenly: charging at ``p`` W for a slot stores ``p * 0.25 * sqrt(eta)`` Wh, discharging at
``p`` W removes ``p * 0.25 / sqrt(eta)`` Wh.

The baseline is ``schedule_w``, the home's own plan (e.g. self-consumption: charge from PV
surplus, discharge in the evening), or idle. Under an activation the pinned slots run at
``baseline - W`` and must keep power and SoC limits; every other slot follows the plan as
far as the SoC allows (after an extra discharge the evening discharge shrinks: the rebound).

Ask price (both directions): ``degradation_eur_per_mwh / efficiency``, because delivering
1 MWh cycles ``1 / efficiency`` MWh through the cells.
"""

import math
from dataclasses import dataclass
from typing import ClassVar

from flexibility import limits
from flexibility.errors import FlexibilityInputError, InfeasibleError
from flexibility.profile import (
    SLOT_HOURS,
    SLOTS_PER_DAY,
    Activation,
    SlotFlex,
    check_activation,
    check_day_profile,
    check_range,
)
from oracle.types import Direction

_TOLERANCE_WH = 1e-6


@dataclass(frozen=True, slots=True)
class HomeBattery:
    """A battery behind one meter point."""

    capacity_kwh: float
    power_kw: float
    soc_start: float
    soc_min: float
    efficiency: float
    degradation_eur_per_mwh: float
    soc_max: float = 1.0
    schedule_w: tuple[int, ...] = ()

    can_generate: ClassVar[bool] = True
    all_or_nothing: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_range("capacity_kwh", self.capacity_kwh, 0.0, math.inf, low_open=True)
        check_range("power_kw", self.power_kw, 0.0, math.inf, low_open=True)
        check_range("soc_max", self.soc_max, 0.0, 1.0, low_open=True)
        check_range("soc_min", self.soc_min, 0.0, self.soc_max)
        check_range("soc_start", self.soc_start, self.soc_min, self.soc_max)
        check_range("efficiency", self.efficiency, 0.0, 1.0, low_open=True)
        check_range("degradation_eur_per_mwh", self.degradation_eur_per_mwh, 0.0, math.inf)
        if self.schedule_w:
            check_day_profile("schedule_w", self.schedule_w)
            pinned_everywhere = dict.fromkeys(range(SLOTS_PER_DAY), 0)
            try:
                self._run(pinned_everywhere, "schedule_w")
            except InfeasibleError as exc:
                raise FlexibilityInputError("schedule_w", f"cannot be followed: {exc}") from exc

    @property
    def power_w(self) -> int:
        return round(self.power_kw * 1000)

    def baseline_w(self) -> list[int]:
        """The planned power per slot without activation (idle when no schedule)."""
        return list(self.schedule_w) if self.schedule_w else [0] * SLOTS_PER_DAY

    def dispatch_w(self, activation: Activation) -> list[int]:
        """The power per slot under ``activation``; raises when power or SoC would break."""
        check_activation(activation)
        return self._run(activation, "activation")

    def soc(self, power_w: list[int]) -> list[float]:
        """The SoC at the start of each slot and at the end of the day (97 values)."""
        capacity_wh = self.capacity_kwh * 1000
        charge, discharge = self._wh_per_w()
        stored = [self.soc_start * capacity_wh]
        for p in power_w:
            stored.append(stored[-1] + p * (charge if p >= 0 else discharge))
        return [wh / capacity_wh for wh in stored]

    def slot_limit_w(self, direction: Direction, slot: int) -> int:
        """The most W the power limit allows in ``slot`` relative to the baseline."""
        base = self.baseline_w()[slot]
        return self.power_w + base if direction == Direction.UP else self.power_w - base

    def flexibility(self) -> list[SlotFlex]:
        return limits.slot_flexibility(self)

    def max_block_w(
        self,
        direction: Direction,
        first_slot: int,
        slot_count: int,
        committed: Activation | None = None,
    ) -> int:
        return limits.max_block_w(self, direction, first_slot, slot_count, committed)

    def marginal_price_cents_per_mwh(self, direction: Direction) -> int:
        """The ask price in euro cents per MWh (same both ways, see the module docstring)."""
        return round(self.degradation_eur_per_mwh / self.efficiency * 100)

    def _wh_per_w(self) -> tuple[float, float]:
        """Stored Wh per W for one slot: (charging, discharging)."""
        one_way = math.sqrt(self.efficiency)
        return SLOT_HOURS * one_way, SLOT_HOURS / one_way

    def _run(self, pinned: Activation, field: str) -> list[int]:
        # one pass with local names: the flexibility search runs this thousands of times
        capacity_wh = self.capacity_kwh * 1000
        low, high = self.soc_min * capacity_wh, self.soc_max * capacity_wh
        charge, discharge = self._wh_per_w()
        limit, stored = self.power_w, self.soc_start * capacity_wh
        power = self.baseline_w()
        for slot, planned in enumerate(power):
            p = planned - pinned[slot] if slot in pinned else planned
            after = stored + p * (charge if p >= 0 else discharge)
            if slot not in pinned and not low - _TOLERANCE_WH <= after <= high + _TOLERANCE_WH:
                p = _within_soc(p, stored, low, high, charge, discharge)
                after = stored + p * (charge if p >= 0 else discharge)
            _check_slot(field, slot, p, limit, after, (low, high), capacity_wh)
            power[slot], stored = p, after
        return power


def _within_soc(
    planned_w: int,
    stored_wh: float,
    low_wh: float,
    high_wh: float,
    charge: float,
    discharge: float,
) -> int:
    """The planned power cut to what the SoC allows (towards zero, whole W)."""
    if planned_w > 0:
        return max(0, min(planned_w, math.floor((high_wh - stored_wh) / charge)))
    return min(0, max(planned_w, -math.floor((stored_wh - low_wh) / discharge)))


def _check_slot(
    field: str,
    slot: int,
    power_w: int,
    limit_w: int,
    stored_wh: float,
    bounds_wh: tuple[float, float],
    capacity_wh: float,
) -> None:
    if abs(power_w) > limit_w:
        raise InfeasibleError(field, f"slot {slot}: {power_w} W exceeds the battery's {limit_w} W")
    low, high = bounds_wh
    if not low - _TOLERANCE_WH <= stored_wh <= high + _TOLERANCE_WH:
        raise InfeasibleError(
            field,
            f"slot {slot}: state of charge would reach {stored_wh / capacity_wh:.4f}, outside "
            f"{low / capacity_wh:.4f}..{high / capacity_wh:.4f}",
        )
