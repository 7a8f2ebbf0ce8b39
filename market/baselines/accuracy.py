"""How well a baseline method would have predicted an asset's own history.

For each of the last ``days`` evaluation days in the history (eligible under the method's day
rule, not an ``exclude_days`` activation day, with metered data for the whole evaluation
window) the method computes the baseline of that day's window from data it may see, and
the errors ``e = baseline - actual`` over all evaluated slots give::

    MAE  = mean |e|                 Wh per slot
    bias = mean e                   Wh per slot; positive: the baseline is too high, so the
                                    FSP would be paid for flexibility it did not deliver
                                    (overpaid); negative: underpaid
    RMSE = sqrt(mean e^2)           Wh per slot
    NMAE = 100 * sum |e| / sum |actual|   percent; None when the actuals are all zero

MAE >= |bias| and RMSE >= MAE always.

What a method may see: every slot before the window starts (X of Y uses only earlier days and,
with the same-day adjustment, the slots just before the window; meter-before the slots just
before), and for meter before/after also the slots after the window ends. The window's own
readings are never visible.

The window defaults to the evening peak, 17:00 local for 4 hours: meter-before is built for
short activations, and judging it over a whole day would say nothing useful.
"""

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from market.baselines import days as local
from market.baselines.compute import DEFAULT_PARAMS, MethodParams, compute_baseline
from market.baselines.errors import BaselineError
from market.baselines.series import EnergySeries, slot_range
from market.baselines.vocab import BaselineMethod
from oracle.types import SLOT_SECONDS

COMPUTABLE = (
    BaselineMethod.X_OF_Y,
    BaselineMethod.HIGH_X_OF_Y,
    BaselineMethod.METER_BEFORE,
    BaselineMethod.METER_BEFORE_AFTER,
)


@dataclass(frozen=True, slots=True)
class AccuracyReport:
    """Errors of one method over ``days`` evaluation days (``slots`` slots in all)."""

    method: BaselineMethod
    days: int
    slots: int
    mae_wh: float
    bias_wh: float
    nmae_pct: float | None
    rmse_wh: float


@dataclass(frozen=True, slots=True)
class EvaluationWindow:
    """The slots of each evaluation day that are compared: ``slot_count`` slots from
    ``start`` local time."""

    start: time = time(17, 0)
    slot_count: int = 16


EVENING_PEAK = EvaluationWindow()


def backtest(
    history: EnergySeries,
    method: BaselineMethod,
    days: int,
    *,
    params: MethodParams = DEFAULT_PARAMS,
    window: EvaluationWindow = EVENING_PEAK,
    exclude_days: Collection[date] = (),
) -> AccuracyReport:
    """The accuracy of ``method`` on the last ``days`` evaluation days of ``history``."""
    windows = evaluation_windows(history, days, params, window, exclude_days)
    errors: list[int] = []
    actuals: list[int] = []
    for slots in windows:
        visible = _visible(history, slots, method)
        baseline = compute_baseline(method, visible, slots, params, exclude_days)
        errors.extend(baseline[slot] - history[slot] for slot in slots)
        actuals.extend(history[slot] for slot in slots)
    return _report(method, len(windows), errors, actuals)


def compare_methods(
    history: EnergySeries,
    days: int,
    *,
    params: MethodParams = DEFAULT_PARAMS,
    window: EvaluationWindow = EVENING_PEAK,
    exclude_days: Collection[date] = (),
    methods: Sequence[BaselineMethod] = COMPUTABLE,
) -> dict[BaselineMethod, AccuracyReport]:
    """:func:`backtest` of each method on the same days, keyed by method."""
    return {
        method: backtest(
            history, method, days, params=params, window=window, exclude_days=exclude_days
        )
        for method in methods
    }


def evaluation_windows(
    history: EnergySeries,
    days: int,
    params: MethodParams,
    window: EvaluationWindow,
    exclude_days: Collection[date] = (),
) -> list[list[int]]:
    """The window slots of the last ``days`` evaluation days, oldest first."""
    if days < 1:
        raise BaselineError("days", f"{days} must be at least 1")
    if window.slot_count < 1:
        raise BaselineError("window", f"slot_count {window.slot_count} must be at least 1")
    if not history:
        raise BaselineError("history", "is empty; a backtest needs metered history")
    tz = local.zone(params.tz)
    rule = local.DayRule(params.working_days_only, params.holidays, exclude_days)
    first, day = local.local_day(min(history), tz), local.local_day(max(history), tz)
    found: list[list[int]] = []
    while day >= first and len(found) < days:
        slots = _window_slots(day, window, tz)
        if rule.allows(day) and slots is not None and all(s in history for s in slots):
            found.append(slots)
        day -= timedelta(days=1)
    if len(found) < days:
        raise BaselineError(
            "days", f"history has only {len(found)} complete evaluation days, {days} asked"
        )
    return found[::-1]


def _window_slots(day: date, window: EvaluationWindow, tz: ZoneInfo) -> list[int] | None:
    start = local.wall_clock_to_slot(day, window.start, tz)
    return None if start is None else slot_range(start, window.slot_count)


def _visible(history: EnergySeries, slots: list[int], method: BaselineMethod) -> dict[int, int]:
    """What ``method`` may see when predicting ``slots`` (see the module docstring)."""
    start, end = slots[0], slots[-1] + SLOT_SECONDS
    sees_after = method is BaselineMethod.METER_BEFORE_AFTER
    return {s: v for s, v in history.items() if s < start or (sees_after and s >= end)}


def _report(
    method: BaselineMethod, days: int, errors: list[int], actuals: list[int]
) -> AccuracyReport:
    count = len(errors)
    absolute = sum(abs(e) for e in errors)
    actual_total = sum(abs(a) for a in actuals)
    return AccuracyReport(
        method=method,
        days=days,
        slots=count,
        mae_wh=absolute / count,
        bias_wh=sum(errors) / count,
        nmae_pct=100 * absolute / actual_total if actual_total else None,
        rmse_wh=math.sqrt(sum(e * e for e in errors) / count),
    )
