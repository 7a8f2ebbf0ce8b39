"""How much flexibility an asset has: the largest activation its own simulation accepts.

Every asset model can simulate an activation (``dispatch_w``) and raises
:class:`~flexibility.errors.InfeasibleError` when a constraint would break; feasibility is
monotone in the activated power (asking less never breaks what asking more kept). So the
largest feasible power is found by bisection between 0 (the baseline, always feasible) and
the asset's power limit, trying that limit first because it usually holds. Whatever this
module returns has been simulated and accepted.
"""

from collections.abc import Callable, Mapping
from typing import Protocol

from flexibility.errors import InfeasibleError
from flexibility.profile import SLOTS_PER_DAY, Activation, SlotFlex, check_block, signed_w
from oracle.types import Direction


class Simulated(Protocol):
    """What the search needs from an asset model."""

    def dispatch_w(self, activation: Activation) -> list[int]: ...

    def slot_limit_w(self, direction: Direction, slot: int) -> int: ...


def accepts(asset: Simulated, activation: Activation) -> bool:
    """Whether the asset can follow ``activation`` without breaking a constraint."""
    try:
        asset.dispatch_w(activation)
    except InfeasibleError:
        return False
    return True


def largest_feasible(is_feasible: Callable[[int], bool], upper: int) -> int:
    """The largest ``w`` in ``0..upper`` with ``is_feasible(w)``, given monotonicity."""
    if upper <= 0:
        return 0
    if is_feasible(upper):
        return upper
    low, high = 0, upper  # low is feasible, high is not
    while high - low > 1:
        middle = (low + high) // 2
        if is_feasible(middle):
            low = middle
        else:
            high = middle
    return low


def block(direction: Direction, first_slot: int, slot_count: int, power_w: int) -> dict[int, int]:
    """A constant activation of ``power_w`` over the block."""
    w = signed_w(direction, power_w)
    return {slot: w for slot in range(first_slot, first_slot + slot_count)}


def combined(first: Activation, second: Activation) -> dict[int, int]:
    """Two activations on the same asset, added slot by slot."""
    total = dict(first)
    for slot, w in second.items():
        total[slot] = total.get(slot, 0) + w
    return total


def max_block_w(
    asset: Simulated,
    direction: Direction,
    first_slot: int,
    slot_count: int,
    committed: Activation | None = None,
) -> int:
    """The largest constant W the asset can add over the block on top of ``committed``."""
    check_block(first_slot, slot_count)
    committed = committed or {}
    slots = range(first_slot, first_slot + slot_count)
    upper = min(
        asset.slot_limit_w(direction, slot) - _used(committed, direction, slot) for slot in slots
    )

    def feasible(power_w: int) -> bool:
        return accepts(
            asset, combined(committed, block(direction, first_slot, slot_count, power_w))
        )

    return largest_feasible(feasible, upper)


def _used(committed: Mapping[int, int], direction: Direction, slot: int) -> int:
    return signed_w(direction, committed.get(slot, 0))


def slot_flexibility(asset: Simulated) -> list[SlotFlex]:
    """Each slot's up and down flexibility on its own (the rest of the day at baseline)."""
    return [
        SlotFlex(
            max_block_w(asset, Direction.UP, slot, 1), max_block_w(asset, Direction.DOWN, slot, 1)
        )
        for slot in range(SLOTS_PER_DAY)
    ]
