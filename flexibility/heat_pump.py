"""A heat pump heating one house, modelled as one thermal mass (1R1C).

Indoor temperature ``T`` (degC) moves each 15-minute slot by::

    T[i+1] = T[i] + 0.25 h / C * (cop * P[i] - UA * (T[i] - T_out[i]))

with ``C = thermal_capacity_kwh_per_k``, ``UA = heat_loss_kw_per_k`` and ``P`` the electric
power in kW. The baseline is the thermostat of a modulating (inverter) heat pump: each slot
it draws the power that brings ``T`` back to ``setpoint_c``, clipped to ``0..electric_kw``.
Under an activation the pinned slots run at ``baseline - W``; the thermostat runs every other
slot from wherever the temperature is, so the house reheats after an up activation (the
rebound). Every slot must end inside the comfort band ``comfort_min_c..comfort_max_c``; the
heat pump must be sized to hold it at baseline (checked on construction).

Ask price (both directions): ``comfort_cost_eur_per_mwh``, the occupants' price for a room
that drifts from its setpoint.
"""

import math
from dataclasses import dataclass, field
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

_TOLERANCE_K = 1e-9


@dataclass(frozen=True, slots=True)
class HeatPump:
    """A heat pump, its house and the day's outdoor temperature (one value per slot)."""

    electric_kw: float
    cop: float
    thermal_capacity_kwh_per_k: float
    heat_loss_kw_per_k: float
    setpoint_c: float
    comfort_min_c: float
    comfort_max_c: float
    outdoor_c: tuple[float, ...]
    comfort_cost_eur_per_mwh: float = 60.0
    _baseline_w: tuple[int, ...] = field(init=False, repr=False, compare=False)

    can_generate: ClassVar[bool] = False
    all_or_nothing: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_range("electric_kw", self.electric_kw, 0.0, math.inf, low_open=True)
        check_range("cop", self.cop, 0.0, 10.0, low_open=True)
        check_range(
            "thermal_capacity_kwh_per_k",
            self.thermal_capacity_kwh_per_k,
            0.0,
            math.inf,
            low_open=True,
        )
        check_range("heat_loss_kw_per_k", self.heat_loss_kw_per_k, 0.0, math.inf, low_open=True)
        check_range("comfort_max_c", self.comfort_max_c, self.comfort_min_c, 40.0)
        check_range("setpoint_c", self.setpoint_c, self.comfort_min_c, self.comfort_max_c)
        check_range("comfort_cost_eur_per_mwh", self.comfort_cost_eur_per_mwh, 0.0, math.inf)
        check_day_profile("outdoor_c", self.outdoor_c)
        # the thermostat run is the costly part of every search step: run it once
        object.__setattr__(self, "_baseline_w", tuple(self._run({}, [])[0]))
        try:
            self.dispatch_w({})
        except InfeasibleError as exc:
            raise FlexibilityInputError(
                "electric_kw", f"{self.electric_kw} kW cannot hold the comfort band: {exc}"
            ) from exc

    @property
    def electric_w(self) -> int:
        return round(self.electric_kw * 1000)

    def baseline_w(self) -> list[int]:
        """The thermostat's power per slot, starting at the setpoint."""
        return list(self._baseline_w)

    def dispatch_w(self, activation: Activation) -> list[int]:
        """The power per slot under ``activation``; raises when the band would break."""
        check_activation(activation)
        power, temperatures = self._run(activation, list(self._baseline_w))
        self._check_band(temperatures)
        return power

    def indoor_c(self, power_w: list[int]) -> list[float]:
        """The indoor temperature at the start of each slot and at the end (97 values)."""
        temperatures = [self.setpoint_c]
        for slot, p in enumerate(power_w):
            temperatures.append(self._next_c(temperatures[-1], p, slot))
        return temperatures

    def slot_limit_w(self, direction: Direction, slot: int) -> int:
        base = self._baseline_w[slot]
        return base if direction == Direction.UP else self.electric_w - base

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
        return round(self.comfort_cost_eur_per_mwh * 100)

    def _run(self, pinned: Activation, baseline: list[int]) -> tuple[list[int], list[float]]:
        power: list[int] = []
        temperatures = [self.setpoint_c]
        for slot in range(SLOTS_PER_DAY):
            now = temperatures[-1]
            p = (
                self._pinned(slot, baseline[slot] - pinned[slot])
                if slot in pinned
                else (self._thermostat_w(now, slot))
            )
            power.append(p)
            temperatures.append(self._next_c(now, p, slot))
        return power, temperatures

    def _thermostat_w(self, indoor_c: float, slot: int) -> int:
        """The power that brings the house back to the setpoint within the slot."""
        heat_kw = self.thermal_capacity_kwh_per_k * (
            self.setpoint_c - indoor_c
        ) / SLOT_HOURS + self.heat_loss_kw_per_k * (indoor_c - self.outdoor_c[slot])
        return min(self.electric_w, max(0, round(heat_kw / self.cop * 1000)))

    def _next_c(self, indoor_c: float, power_w: int, slot: int) -> float:
        net_kw = self.cop * power_w / 1000 - self.heat_loss_kw_per_k * (
            indoor_c - self.outdoor_c[slot]
        )
        return indoor_c + SLOT_HOURS / self.thermal_capacity_kwh_per_k * net_kw

    def _pinned(self, slot: int, power_w: int) -> int:
        if not 0 <= power_w <= self.electric_w:
            raise InfeasibleError(
                "activation", f"slot {slot}: {power_w} W is outside 0..{self.electric_w} W"
            )
        return power_w

    def _check_band(self, temperatures: list[float]) -> None:
        low, high = self.comfort_min_c - _TOLERANCE_K, self.comfort_max_c + _TOLERANCE_K
        for slot, t in enumerate(temperatures[1:]):
            if not low <= t <= high:
                raise InfeasibleError(
                    "activation",
                    f"slot {slot}: indoor {t:.2f} degC leaves the comfort band "
                    f"{self.comfort_min_c}..{self.comfort_max_c} degC",
                )
