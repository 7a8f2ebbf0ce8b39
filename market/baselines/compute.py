"""One entry point for the computable methods, with their settings in one object.

The REST layer and the backtest pick a method by name; :func:`compute_baseline` runs it with
the knobs in :class:`MethodParams`. Defaults: X of Y is "5 of 5" (the mean of the last five
working days), high X of Y is PJM's "high 4 of 5", meter before/after use one hour (4 slots).
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from market.baselines.errors import BaselineError
from market.baselines.methods import DEFAULT_TZ, meter_before, meter_before_after, x_of_y
from market.baselines.series import EnergySeries, sorted_slots
from market.baselines.vocab import BaselineMethod
from oracle.types import SLOT_SECONDS


@dataclass(frozen=True, slots=True)
class MethodParams:
    """Knobs of every computable method; each method reads only its own."""

    x: int = 5
    y: int = 5
    high_x: int = 4
    high_y: int = 5
    working_days_only: bool = True
    holidays: Collection[date] = ()
    adjustment_slots: int = 0
    before_slots: int = 4
    before_after_slots: int = 4
    tz: str = DEFAULT_TZ
    max_lookback_days: int = 45


DEFAULT_PARAMS = MethodParams()


def compute_baseline(
    method: BaselineMethod,
    history: EnergySeries,
    event_slots: Sequence[int],
    params: MethodParams = DEFAULT_PARAMS,
    exclude_days: Collection[date] = (),
) -> dict[int, int]:
    """The baseline of one event (consecutive slots) by ``method``.

    ``exclude_days`` are flagged activation days (X of Y never uses them).
    """
    slots = sorted_slots("event_slots", event_slots)
    if method in (BaselineMethod.X_OF_Y, BaselineMethod.HIGH_X_OF_Y):
        return _x_of_y(method, history, slots, params, exclude_days)
    if method is BaselineMethod.METER_BEFORE:
        _check_consecutive(slots)
        return meter_before(history, slots[0], len(slots), params.before_slots)
    if method is BaselineMethod.METER_BEFORE_AFTER:
        _check_consecutive(slots)
        end = slots[-1] + SLOT_SECONDS
        return meter_before_after(history, slots[0], end, params.before_after_slots)
    raise BaselineError(
        "method", f"{method.value!r} is not computed from history; the FSP nominates it"
    )


def _check_consecutive(slots: list[int]) -> None:
    if slots[-1] - slots[0] != (len(slots) - 1) * SLOT_SECONDS:
        raise BaselineError(
            "event_slots", "meter methods need one block of consecutive slots; split the event"
        )


def _x_of_y(
    method: BaselineMethod,
    history: EnergySeries,
    slots: list[int],
    params: MethodParams,
    exclude_days: Collection[date],
) -> dict[int, int]:
    high = method is BaselineMethod.HIGH_X_OF_Y
    return x_of_y(
        history,
        slots,
        x=params.high_x if high else params.x,
        y=params.high_y if high else params.y,
        working_days_only=params.working_days_only,
        holidays=params.holidays,
        high=high,
        exclude_days=exclude_days,
        adjustment_slots=params.adjustment_slots,
        tz=params.tz,
        max_lookback_days=params.max_lookback_days,
    )
