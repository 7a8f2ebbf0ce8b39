"""The day the asset models plan over, and the shapes that cross module boundaries.

An operating day is 96 slots of 15 minutes, indexed 0..95 from the day's first slot (the
caller knows its unix start). Power is integer W, positive = consumption (a battery
discharging or a PV inverter feeding in is negative). "Up" flexibility lowers consumption,
"down" raises it (:class:`oracle.types.Direction`).

An activation is a ``Mapping[int, int]``: slot index -> W of flexibility asked in that slot,
positive for up (consume that much less than the baseline), negative for down. Slots in the
mapping are pinned to ``baseline - W``; every other slot is free for the asset's controller
(an EV catches up on charging, a heat pump reheats: the rebound).
"""

import math
from collections.abc import Mapping
from typing import NamedTuple, TypeAlias

from flexibility.errors import FlexibilityInputError
from oracle.types import Direction

SLOTS_PER_DAY = 96
SLOT_HOURS = 0.25
Activation: TypeAlias = Mapping[int, int]


class SlotFlex(NamedTuple):
    """What one slot can give on its own, the rest of the day at baseline: W each way."""

    up_w: int
    down_w: int


def check_activation(activation: Activation) -> None:
    """Raise unless every key is a slot index of the day and every value an int W."""
    for slot, power_w in activation.items():
        if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < SLOTS_PER_DAY:
            raise FlexibilityInputError(
                "activation", f"slot {slot!r} is not a slot index 0..{SLOTS_PER_DAY - 1}"
            )
        if isinstance(power_w, bool) or not isinstance(power_w, int):
            raise FlexibilityInputError("activation", f"slot {slot}: {power_w!r} is not int W")


def check_block(first_slot: int, slot_count: int) -> None:
    """Raise unless ``slot_count`` slots from ``first_slot`` lie inside the day."""
    if slot_count < 1 or first_slot < 0 or first_slot + slot_count > SLOTS_PER_DAY:
        raise FlexibilityInputError(
            "slots",
            f"{slot_count} slots from index {first_slot} leave the day of {SLOTS_PER_DAY}",
        )


def signed_w(direction: Direction, power_w: int) -> int:
    """``power_w`` as activation W: positive for up, negative for down."""
    return power_w if direction == Direction.UP else -power_w


def check_day_profile(field: str, values: tuple[float, ...] | tuple[int, ...]) -> None:
    """Raise unless a per-slot profile has one value per slot of the day."""
    if len(values) != SLOTS_PER_DAY:
        raise FlexibilityInputError(
            field, f"has {len(values)} values; give one per slot ({SLOTS_PER_DAY})"
        )


def check_range(
    field: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    """Raise unless ``low <= value <= high`` (``low < value`` with ``low_open``)."""
    below = value <= low if low_open else value < low
    if math.isnan(value) or below or value > high:
        bound = "above" if low_open else "at least"
        raise FlexibilityInputError(field, f"{value} must be {bound} {low} and at most {high}")
