"""An EV charger with the day's charging sessions; each session's energy must be met.

A session is plugged in for slots ``arrival_slot .. departure_slot - 1`` and needs
``energy_kwh`` by departure (and no more: the driver's target). Energy is counted at the
charger (W * 0.25 h). The baseline is uncontrolled charging: full power from arrival until
the need is met. Under an activation the pinned slots run at ``baseline - W`` and the charger
fills the session's other slots earliest first at up to full power (the rebound); the
activation is infeasible when the car would miss its energy by departure, be charged beyond
it, or is asked for power while unplugged.

Ask price (both directions): ``shift_cost_eur_per_mwh``, the FSP's price for moving a
driver's charging in time. Offers from an EV are all-or-nothing: stopping or starting a
charge is what every charge point executes reliably, while many cars ignore current limits
between zero and about 6 A.
"""

import math
from dataclasses import dataclass
from typing import ClassVar

from flexibility import limits
from flexibility.errors import FlexibilityInputError, InfeasibleError
from flexibility.profile import (
    SLOTS_PER_DAY,
    Activation,
    SlotFlex,
    check_activation,
    check_range,
)
from oracle.types import Direction

# Energy is kept in integer "W-slots" (W for one slot = Wh * 4) so that sums are exact.
_SLOTS_PER_HOUR = 4


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """One car plugged in from ``arrival_slot`` until ``departure_slot`` (exclusive)."""

    arrival_slot: int
    departure_slot: int
    energy_kwh: float

    @property
    def slots(self) -> range:
        return range(self.arrival_slot, self.departure_slot)

    @property
    def need_w_slots(self) -> int:
        return round(self.energy_kwh * 1000 * _SLOTS_PER_HOUR)


@dataclass(frozen=True, slots=True)
class EVCharger:
    """A charge point and the sessions it serves in the day (non-overlapping)."""

    max_kw: float
    sessions: tuple[ChargingSession, ...]
    shift_cost_eur_per_mwh: float = 30.0

    can_generate: ClassVar[bool] = False
    all_or_nothing: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_range("max_kw", self.max_kw, 0.0, math.inf, low_open=True)
        check_range("shift_cost_eur_per_mwh", self.shift_cost_eur_per_mwh, 0.0, math.inf)
        previous_end = 0
        for session in sorted(self.sessions, key=lambda s: s.arrival_slot):
            self._check_session(session, previous_end)
            previous_end = session.departure_slot

    @property
    def max_w(self) -> int:
        return round(self.max_kw * 1000)

    def baseline_w(self) -> list[int]:
        """Uncontrolled charging: full power from arrival until each need is met."""
        power = [0] * SLOTS_PER_DAY
        for session in self.sessions:
            self._fill(power, session, list(session.slots), session.need_w_slots)
        return power

    def dispatch_w(self, activation: Activation) -> list[int]:
        """The power per slot under ``activation``, with the rebound planned around it."""
        check_activation(activation)
        baseline = self.baseline_w()
        power = [0] * SLOTS_PER_DAY
        for slot, w in activation.items():
            power[slot] = self._pinned(slot, baseline[slot] - w)
        for session in self.sessions:
            self._replan(power, session, activation)
        return power

    def slot_limit_w(self, direction: Direction, slot: int) -> int:
        """The most W the charger's power allows in ``slot`` relative to the baseline."""
        base = self.baseline_w()[slot]
        if direction == Direction.UP:
            return base
        return self.max_w - base if self._session_at(slot) is not None else 0

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
        return round(self.shift_cost_eur_per_mwh * 100)

    def delivered_kwh(self, power_w: list[int], session: ChargingSession) -> float:
        """The energy a session gets from a power profile."""
        return sum(power_w[slot] for slot in session.slots) / _SLOTS_PER_HOUR / 1000

    def _check_session(self, session: ChargingSession, previous_end: int) -> None:
        if not previous_end <= session.arrival_slot < session.departure_slot <= SLOTS_PER_DAY:
            raise FlexibilityInputError(
                "sessions",
                f"session {session.arrival_slot}..{session.departure_slot} must lie in "
                f"0..{SLOTS_PER_DAY}, arrive before it departs and not overlap another",
            )
        most = self.max_w * len(session.slots)
        if not 0 <= session.need_w_slots <= most:
            raise FlexibilityInputError(
                "sessions",
                f"session from slot {session.arrival_slot} needs {session.energy_kwh} kWh, "
                f"between 0 and {most / 4000:.2f} kWh at {self.max_kw} kW",
            )

    def _session_at(self, slot: int) -> ChargingSession | None:
        for session in self.sessions:
            if slot in session.slots:
                return session
        return None

    def _pinned(self, slot: int, power_w: int) -> int:
        if power_w != 0 and self._session_at(slot) is None:
            raise InfeasibleError("activation", f"slot {slot}: no car is plugged in")
        if not 0 <= power_w <= self.max_w:
            raise InfeasibleError(
                "activation", f"slot {slot}: {power_w} W is outside 0..{self.max_w} W"
            )
        return power_w

    def _replan(self, power: list[int], session: ChargingSession, pinned: Activation) -> None:
        remaining = session.need_w_slots - sum(power[s] for s in session.slots if s in pinned)
        if remaining < 0:
            raise InfeasibleError(
                "activation",
                f"the session from slot {session.arrival_slot} would get "
                f"{-remaining / 4000:.2f} kWh more than the {session.energy_kwh} kWh it needs",
            )
        free = [slot for slot in session.slots if slot not in pinned]
        self._fill(power, session, free, remaining)

    def _fill(
        self, power: list[int], session: ChargingSession, slots: list[int], need: int
    ) -> None:
        for slot in slots:
            power[slot] = min(self.max_w, need)
            need -= power[slot]
        if need > 0:
            raise InfeasibleError(
                "activation",
                f"the session from slot {session.arrival_slot} would miss "
                f"{need / 4000:.2f} kWh by departure at slot {session.departure_slot}",
            )
