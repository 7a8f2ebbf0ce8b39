"""The FSP's asset models and the interface every one of them offers.

Each model plans one operating day of 96 slots (:mod:`flexibility.profile`) and exposes:

* ``baseline_w()``: power per slot without activation (what the FSP nominates);
* ``flexibility()``: per slot, how many W it can give up / down on its own;
* ``max_block_w(direction, first_slot, slot_count, committed)``: the largest constant W over
  a block, on top of activations already committed;
* ``dispatch_w(activation)``: the power per slot under an activation, rebound included, or
  :class:`~flexibility.errors.InfeasibleError` when a constraint would break;
* ``marginal_price_cents_per_mwh(direction)``: the ask price that covers its cost.

Models: :class:`HomeBattery` (SoC and power limits, degradation), :class:`EVCharger` (energy
by departure), :class:`HeatPump` (comfort band). A PV inverter is left out: it only offers
curtailment, which is direction down and not what the demo's DSO buys.
"""

from typing import Protocol, TypeAlias

from flexibility.battery import HomeBattery
from flexibility.ev_charger import ChargingSession, EVCharger
from flexibility.heat_pump import HeatPump
from flexibility.profile import Activation, SlotFlex
from oracle.types import Direction

Asset: TypeAlias = HomeBattery | EVCharger | HeatPump


class FlexAsset(Protocol):
    """The interface of every asset model (see the module docstring)."""

    @property
    def can_generate(self) -> bool: ...

    @property
    def all_or_nothing(self) -> bool: ...

    def baseline_w(self) -> list[int]: ...

    def flexibility(self) -> list[SlotFlex]: ...

    def dispatch_w(self, activation: Activation) -> list[int]: ...

    def max_block_w(
        self,
        direction: Direction,
        first_slot: int,
        slot_count: int,
        committed: Activation | None = None,
    ) -> int: ...

    def marginal_price_cents_per_mwh(self, direction: Direction) -> int: ...


__all__ = ["Asset", "ChargingSession", "EVCharger", "FlexAsset", "HeatPump", "HomeBattery"]
