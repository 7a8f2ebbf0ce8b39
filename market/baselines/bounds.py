"""How far a nominated baseline may go: hard bounds (refused) and outliers (flagged).

A nominated baseline ``N(s)`` settles flexibility as ``N(s) - metered`` (up) or
``metered - N(s)`` (down), so an FSP gains by nominating more consumption than the asset
would draw (for up) or less (for down). The platform cannot know the asset's true baseline,
but it knows two things the FSP cannot move after the fact: the power it prequalified and
the asset's meter history. Sign convention: consumption positive, export negative.

**Hard bound (refused, 422 naming ``values_kwh.<i>``).** With ``P_wh = max(up_w, down_w) *
900 / 3600`` (the most energy the prequalified power moves in one slot), ``import_peak_wh``
the largest metered consumption and ``export_peak_wh`` the largest metered export (as a
positive number) in the asset's history window (0 without history)::

    upper_wh = P_wh + import_peak_wh
    lower_wh = -(P_wh + export_peak_wh)     0 for an asset that only consumes
                                            (heat pump, EV charger)

Prequalified power alone bounds a flexible device that is the whole asset (a battery
charges or discharges at most ``P``; an EV charger draws at most its charging power). A site
whose own load is larger than its flexibility (the USEF case: 10 MW of load, 2 MW flexible)
has metered that load before, so its history peak widens the bound: a baseline may be what
the asset demonstrably drew plus all its prequalified flexibility, never more. A battery or
a PV/CHP asset exports, so its lower bound mirrors the upper one: its prequalified power plus
the largest export it has metered.

**Outlier (stored and flagged for the DSO, not refused).** Within the bounds, a nomination
is compared slot by slot with the X-of-Y baseline ``R(s)`` computed from the same history
(the baseline the platform settles on without a nomination). A slot deviates when::

    |N(s) - R(s)| > OUTLIER_SHARE * |R(s)| + OUTLIER_PREQUALIFIED_SHARE * P_wh

(50 % of the reference plus a quarter of the prequalified slot energy, so that small
assets and noise do not flag). The baseline is flagged with the first deviating slot and the
count. Without enough history for X of Y nothing is flagged: there is nothing to compare
with, and the hard bound still holds. The DSO of the asset's area sees flagged baselines
and may dispute them (:mod:`market.baseline_disputes`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from market.baselines.errors import BaselineError
from market.baselines.series import iso
from oracle.types import SLOT_SECONDS

OUTLIER_SHARE = 0.5
OUTLIER_PREQUALIFIED_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class NominationBounds:
    """The per-slot range a nominated value must lie in, Wh (both ends included)."""

    lower_wh: int
    upper_wh: int
    prequalified_wh: int


def slot_energy_wh(power_w: int) -> int:
    """Energy of ``power_w`` held for one 15-minute slot, Wh (rounded down)."""
    return power_w * SLOT_SECONDS // 3600


def nomination_bounds(
    up_w: int, down_w: int, history_wh: Mapping[int, int], *, consumes_only: bool
) -> NominationBounds:
    """The hard bounds of one asset's nomination (rule in the module docstring)."""
    prequalified_wh = slot_energy_wh(max(up_w, down_w))
    import_peak_wh = max((e for e in history_wh.values() if e > 0), default=0)
    export_peak_wh = max((-e for e in history_wh.values() if e < 0), default=0)
    lower_wh = 0 if consumes_only else -(prequalified_wh + export_peak_wh)
    return NominationBounds(lower_wh, prequalified_wh + import_peak_wh, prequalified_wh)


def check_within(values_wh: Sequence[int], bounds: NominationBounds, field: str) -> None:
    """Raise :class:`BaselineError` naming ``<field>.<index>`` for the first value outside."""
    for index, energy_wh in enumerate(values_wh):
        if bounds.lower_wh <= energy_wh <= bounds.upper_wh:
            continue
        raise BaselineError(
            f"{field}.{index}",
            f"{energy_wh / 1000} kWh is outside {bounds.lower_wh / 1000} .. "
            f"{bounds.upper_wh / 1000} kWh: a slot's baseline may not exceed the prequalified "
            f"power ({bounds.prequalified_wh / 1000} kWh per slot) plus the largest energy "
            "metered at the asset (consumption positive, export negative)",
        )


def outlier_reason(
    values_wh: Mapping[int, int], reference_wh: Mapping[int, int], prequalified_wh: int
) -> str | None:
    """Why a nomination looks implausible against ``reference_wh`` (X of Y); None if not."""
    deviating = [
        slot
        for slot, energy_wh in sorted(values_wh.items())
        if slot in reference_wh
        and abs(energy_wh - reference_wh[slot])
        > OUTLIER_SHARE * abs(reference_wh[slot]) + OUTLIER_PREQUALIFIED_SHARE * prequalified_wh
    ]
    if not deviating:
        return None
    first = deviating[0]
    return (
        f"{len(deviating)} of {len(values_wh)} slots deviate from the X-of-Y baseline of the "
        f"meter history by more than {OUTLIER_SHARE:.0%} (+ {OUTLIER_PREQUALIFIED_SHARE:.0%} of "
        f"the prequalified slot energy); first {iso(first)}: nominated "
        f"{values_wh[first] / 1000} kWh, history {reference_wh[first] / 1000} kWh"
    )
