"""After delivery: the day again with the activated flexibility, and what it changed.

Activations are kW per (bus, slot) in one direction, as delivered (or, before delivery, as
needed): "up" lowers the bus's consumption, "down" raises it. They become ``flex_p_mw`` of the
profiles (see grid/profiles.py), which ``run_day`` models as extra consumption at the bus.
"""

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from grid.congestion import FlexNeed
from grid.elements import Direction, Element
from grid.errors import GridInputError
from grid.profiles import SLOTS, ScenarioProfiles
from grid.timeseries import DayResult

_SIGN: dict[str, float] = {"up": -1.0, "down": 1.0}  # on consumption


def apply_flexibility(
    profiles: ScenarioProfiles,
    activations: Mapping[tuple[int, int], float],
    direction: Direction,
) -> ScenarioProfiles:
    """``profiles`` with ``activations`` ((bus, slot) -> kW in ``direction``) added to their
    flexibility."""
    if direction not in _SIGN:
        raise GridInputError("direction", f"must be 'up' or 'down', not {direction!r}")
    flex = profiles.flex_p_mw.copy()
    for (bus, slot), kw in activations.items():
        _check_activation(bus, slot, kw)
        if bus not in flex.columns:
            flex[bus] = 0.0
        flex.loc[slot, bus] += _SIGN[direction] * kw / 1000
    return profiles.with_flex(flex.reindex(columns=sorted(flex.columns)))


def activations_of(needs: Iterable[FlexNeed], direction: Direction) -> dict[tuple[int, int], float]:
    """The needs in ``direction`` as activations, as if each were delivered in full."""
    activations: dict[tuple[int, int], float] = {}
    for need in needs:
        if need.direction == direction:
            key = (need.bus, need.slot)
            activations[key] = activations.get(key, 0.0) + need.kw
    return activations


def apply_needs(profiles: ScenarioProfiles, needs: Iterable[FlexNeed]) -> ScenarioProfiles:
    """``profiles`` with every need delivered in full, both directions."""
    needs = list(needs)
    for direction in ("up", "down"):
        profiles = apply_flexibility(profiles, activations_of(needs, direction), direction)
    return profiles


def compare(before: DayResult, after: DayResult, element: Element) -> pd.DataFrame:
    """Per slot, the element's loading % (voltage p.u. for a bus) before and after, and the
    change (after - before)."""
    frames = {"before": before.values(element.kind), "after": after.values(element.kind)}
    for name, frame in frames.items():
        if element.index not in frame.columns:
            raise GridInputError("element", f"{name} has no {element.kind} {element.index}")
    table = pd.DataFrame({name: frame[element.index] for name, frame in frames.items()})
    table["change"] = table["after"] - table["before"]
    return table


def _check_activation(bus: int, slot: int, kw: float) -> None:
    if not 0 <= slot < SLOTS:
        raise GridInputError("activations", f"slot {slot} of bus {bus} is not in 0..{SLOTS - 1}")
    if not (math.isfinite(kw) and kw >= 0):
        raise GridInputError("activations", f"kW at bus {bus}, slot {slot} must be 0 or more")
