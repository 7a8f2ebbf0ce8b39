"""Baseline methods: the energy an asset would have used in each slot without activation.

Series are ``Mapping[int, int]`` (slot start, unix s UTC -> Wh, consumption positive); every
method returns ``{slot start: baseline Wh}`` for the slots asked. Settlement then pays for
``delivered = baseline - metered`` (direction up) or ``metered - baseline`` (down).

Formulas (``E(s)`` is the metered energy of slot ``s``; means are exact and rounded once,
half up, to whole Wh):

* **Nominated.** ``B(s) = N(s)``, the FSP's own value, checked for slot alignment, sign and
  completeness. Its hash (:func:`market.baselines.hashing.baseline_hash`) is locked on chain
  before gate closure, so the FSP cannot change it after seeing the activation.

* **X of Y.** For a target slot ``s`` on local day ``D``, the reference days are the ``Y``
  most recent days before ``D`` (at most ``max_lookback_days`` back) that are eligible
  (Monday-Friday unless ``working_days_only=False``; never a holiday or an ``exclude_days``
  activation day) and have data at every needed wall-clock time. ``s_d`` is the slot at the
  same local time on day ``d``. From those ``Y`` days take ``X``: the ``X`` most recent, or
  with ``high=True`` the ``X`` with the highest energy over the event window (the target
  slots of ``D``; ties go to the more recent day), as in PJM's and NYISO's "high X of Y".
  Then ``B(s) = (1/X) * sum_d E(s_d)``.
  With ``adjustment_slots = n`` (same-day additive adjustment, ISO practice), let ``p_1..p_n``
  be the ``n`` slots right before the first target slot of ``D``:
  ``A = (1/n) * sum_k (E(p_k) - B(p_k))`` and the baseline is ``B(s) + A``. ``B(p_k)`` uses
  the same ``X`` days.

* **Meter before.** ``B(s) = (1/n) * sum_{k=1..n} E(t0 - k*900)`` for every slot of the
  event starting at ``t0``: the last ``n`` slots before activation, held flat.

* **Meter before/after.** ``B(s) = (1/2n) * (sum_{k=1..n} E(t0 - k*900) +
  sum_{k=0..n-1} E(t1 + k*900))`` with ``t1`` the end of the event (exclusive): the mean of
  ``n`` slots before and ``n`` slots after, held flat. Known only after the event.

Local days use :mod:`market.baselines.days` (why the time zone matters is written there).
"""

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from market.baselines import days as local
from market.baselines.errors import BaselineError
from market.baselines.series import (
    EnergySeries,
    check_slot,
    exact_mean,
    iso,
    round_half_up,
    slot_range,
    sorted_slots,
    values_at,
)
from oracle.types import SLOT_SECONDS

DEFAULT_TZ = "Europe/Berlin"


def nominated(
    values: Mapping[int, int],
    slots: Iterable[int] | None = None,
    *,
    allow_generation: bool = False,
) -> dict[int, int]:
    """The FSP's nominated baseline, checked; only ``slots`` (default: all given) are kept.

    Every value must be an integer Wh at a slot start, non-negative unless
    ``allow_generation``; every requested slot must be present.
    """
    for slot, energy_wh in values.items():
        check_slot("values", slot)
        _check_energy(slot, energy_wh, allow_generation)
    wanted = sorted_slots("slots", values if slots is None else slots)
    missing = [slot for slot in wanted if slot not in values]
    if missing:
        raise BaselineError(
            "values",
            f"{len(missing)} requested slots have no value, first {iso(missing[0])}; "
            "nominate every slot of the offer",
        )
    return {slot: values[slot] for slot in wanted}


def _check_energy(slot: int, energy_wh: int, allow_generation: bool) -> None:
    if isinstance(energy_wh, bool) or not isinstance(energy_wh, int):
        raise BaselineError("values", f"{iso(slot)}: {energy_wh!r} is not an integer Wh")
    if energy_wh < 0 and not allow_generation:
        raise BaselineError(
            "values",
            f"{iso(slot)}: {energy_wh} Wh is negative; consumption baselines are >= 0 "
            "(pass allow_generation=True for a generating asset)",
        )


def meter_before(
    history: EnergySeries, event_start: int, event_slots: int, before_slots: int = 4
) -> dict[int, int]:
    """The mean of the ``before_slots`` slots before ``event_start``, held flat."""
    check_slot("event_start", event_start)
    _check_positive("event_slots", event_slots)
    _check_positive("before_slots", before_slots)
    before = slot_range(event_start - before_slots * SLOT_SECONDS, before_slots)
    level = exact_mean(values_at(history, before, f"meter-before needs {before_slots} slots"))
    return dict.fromkeys(slot_range(event_start, event_slots), round_half_up(level))


def meter_before_after(
    history: EnergySeries, event_start: int, event_end: int, n: int = 4
) -> dict[int, int]:
    """The mean of ``n`` slots before ``event_start`` and ``n`` from ``event_end``, held flat.

    ``event_end`` is exclusive: the start of the first slot after the event.
    """
    check_slot("event_start", event_start)
    check_slot("event_end", event_end)
    if event_end <= event_start:
        raise BaselineError("event_end", f"{iso(event_end)} must be after event_start")
    _check_positive("n", n)
    around = slot_range(event_start - n * SLOT_SECONDS, n) + slot_range(event_end, n)
    level = exact_mean(values_at(history, around, f"before/after needs {n} slots each side"))
    event_slots = (event_end - event_start) // SLOT_SECONDS
    return dict.fromkeys(slot_range(event_start, event_slots), round_half_up(level))


def _check_positive(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BaselineError(field, f"{value!r} must be a positive integer")


@dataclass(frozen=True, slots=True)
class _XOfY:
    """The settings of one X-of-Y run."""

    x: int
    y: int
    high: bool
    rule: local.DayRule
    adjustment_slots: int
    tz: ZoneInfo
    max_lookback_days: int


def x_of_y(
    history: EnergySeries,
    target_slots: Iterable[int],
    x: int = 5,
    y: int = 5,
    working_days_only: bool = True,
    holidays: Collection[date] = (),
    high: bool = False,
    *,
    exclude_days: Collection[date] = (),
    adjustment_slots: int = 0,
    tz: str = DEFAULT_TZ,
    max_lookback_days: int = 45,
) -> dict[int, int]:
    """The X-of-Y baseline of every target slot (formula in the module docstring)."""
    _check_positive("x", x)
    _check_positive("y", y)
    if x > y:
        raise BaselineError("x", f"{x} is more than y={y}; X days are picked from Y")
    if adjustment_slots:
        _check_positive("adjustment_slots", adjustment_slots)
    _check_positive("max_lookback_days", max_lookback_days)
    run = _XOfY(
        x=x,
        y=y,
        high=high,
        rule=local.DayRule(working_days_only, holidays, exclude_days),
        adjustment_slots=adjustment_slots,
        tz=local.zone(tz),
        max_lookback_days=max_lookback_days,
    )
    baseline: dict[int, int] = {}
    for day, slots in _by_local_day(sorted_slots("target_slots", target_slots), run.tz).items():
        baseline.update(_x_of_y_day(history, day, slots, run))
    return baseline


def _by_local_day(slots: Sequence[int], tz: ZoneInfo) -> dict[date, list[int]]:
    grouped: dict[date, list[int]] = defaultdict(list)
    for slot in slots:
        grouped[local.local_day(slot, tz)].append(slot)
    return grouped


def _x_of_y_day(history: EnergySeries, day: date, slots: list[int], run: _XOfY) -> dict[int, int]:
    pre = slot_range(slots[0] - run.adjustment_slots * SLOT_SECONDS, run.adjustment_slots)
    needed = pre + slots
    references = _reference_days(history, day, needed, run)
    chosen = _choose(history, references, run, window_from=len(pre))
    means = [exact_mean(history[mapped[i]] for mapped in chosen) for i in range(len(needed))]
    shift = _adjustment(history, pre, means[: len(pre)])
    window_means = means[len(pre) :]
    return {slot: round_half_up(m + shift) for slot, m in zip(slots, window_means, strict=True)}


def _reference_days(
    history: EnergySeries, day: date, needed: list[int], run: _XOfY
) -> list[list[int]]:
    """The Y most recent eligible days before ``day``, as their slots for ``needed``."""
    found: list[list[int]] = []
    for back in range(1, run.max_lookback_days + 1):
        candidate = day - timedelta(days=back)
        if not run.rule.allows(candidate):
            continue
        mapped = _mapped_slots(history, needed, day, candidate, run.tz)
        if mapped is not None:
            found.append(mapped)
            if len(found) == run.y:
                return found
    raise BaselineError(
        "history",
        f"only {len(found)} eligible days in the {run.max_lookback_days} days before {day}, "
        f"{run.y} needed; supply more complete history or lower y",
    )


def _mapped_slots(
    history: EnergySeries, needed: list[int], day: date, candidate: date, tz: ZoneInfo
) -> list[int] | None:
    """``needed`` moved to ``candidate``; ``None`` when any of those slots has no data."""
    mapped = []
    for slot in needed:
        moved = local.same_wall_clock(slot, day, candidate, tz)
        if moved is None or moved not in history:
            return None
        mapped.append(moved)
    return mapped


def _choose(
    history: EnergySeries, references: list[list[int]], run: _XOfY, window_from: int
) -> list[list[int]]:
    if not run.high:
        return references[: run.x]

    def window_energy(mapped: list[int]) -> int:
        return sum(history[slot] for slot in mapped[window_from:])

    # sorted() is stable and references run newest first, so ties keep the more recent day
    return sorted(references, key=window_energy, reverse=True)[: run.x]


def _adjustment(history: EnergySeries, pre: list[int], pre_baseline: list[Fraction]) -> Fraction:
    if not pre:
        return Fraction(0)
    actual = values_at(history, pre, "the same-day adjustment needs the slots before the event")
    return exact_mean(a - b for a, b in zip(actual, pre_baseline, strict=True))
