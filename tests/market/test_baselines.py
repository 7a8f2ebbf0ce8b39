"""Baseline methods, the baseline hash and backtests: hand-computed cases, then properties.

Calendar of the hand-built cases (Europe/Berlin, UTC+1 in November 2026)::

    Mon 16  Tue 17  Wed 18  Thu 19  Fri 20  [Sat 21  Sun 22]
    Mon 23  Tue 24  Wed 25  Thu 26  Fri 27 (the target day)
"""

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from market.baselines import (
    COMPUTABLE,
    BaselineError,
    BaselineMethod,
    EvaluationWindow,
    MethodParams,
    backtest,
    baseline_hash,
    compare_methods,
    compute_baseline,
    meter_before,
    meter_before_after,
    nominated,
    x_of_y,
)

BERLIN = ZoneInfo("Europe/Berlin")
TARGET = date(2026, 11, 27)
FSP = "0x" + "ab" * 20


def at(day: date, hh: int, mm: int = 0) -> int:
    """The unix slot start of a Berlin wall-clock time."""
    return int(datetime.combine(day, time(hh, mm), tzinfo=BERLIN).timestamp())


def nov(day: int) -> date:
    return date(2026, 11, day)


def evening(values_by_day: dict[int, int], hh: int = 18) -> dict[int, int]:
    """History with one value at ``hh``:00 on each November day given."""
    return {at(nov(d), hh): wh for d, wh in values_by_day.items()}


# Every day of the two weeks at 18:00: the day of month times 100, weekends far off.
TWO_WEEKS = evening({d: 100 * d for d in range(16, 27)} | {21: 9_999, 22: 9_999})


# --- X of Y ------------------------------------------------------------------------------------


def test_x_of_y_averages_the_five_previous_working_days() -> None:
    baseline = x_of_y(TWO_WEEKS, [at(TARGET, 18)])
    # Thu 26, Wed 25, Tue 24, Mon 23, Fri 20: the weekend is skipped
    assert baseline == {at(TARGET, 18): (2600 + 2500 + 2400 + 2300 + 2000) // 5}


def test_x_of_y_with_x_below_y_takes_the_most_recent_days() -> None:
    assert x_of_y(TWO_WEEKS, [at(TARGET, 18)], x=2, y=5) == {at(TARGET, 18): 2550}


def test_weekends_count_when_working_days_only_is_off() -> None:
    baseline = x_of_y(TWO_WEEKS, [at(TARGET, 18)], x=5, y=5, working_days_only=False)
    # Thu 26 .. Mon 23 and Sun 22: 19_799 / 5 = 3959.8 -> 3960
    assert baseline == {at(TARGET, 18): 3960}


def test_holidays_activation_days_and_gaps_are_skipped() -> None:
    gappy = {s: v for s, v in TWO_WEEKS.items() if s != at(nov(24), 18)}  # Tue 24 missing
    baseline = x_of_y(gappy, [at(TARGET, 18)], holidays=[nov(25)], exclude_days=[nov(26)], x=3, y=3)
    # left: Mon 23, Fri 20, Thu 19: 6200 / 3 = 2066.7 -> 2067
    assert baseline == {at(TARGET, 18): 2067}


def test_high_x_of_y_picks_the_days_with_most_energy_in_the_window() -> None:
    # two-slot window 18:00-18:30; daily window sums: 26: 0, 25: 3000, 24: 1000, 23: 3000,
    # 20: 5000 -> high 2 of 5 = Fri 20 and Wed 25 (tie with Mon 23 goes to the recent day)
    pairs = {26: (0, 0), 25: (1000, 2000), 24: (500, 500), 23: (2000, 1000), 20: (2500, 2500)}
    history: dict[int, int] = {}
    for d, (first, second) in pairs.items():
        history[at(nov(d), 18)] = first
        history[at(nov(d), 18, 15)] = second
    window = [at(TARGET, 18), at(TARGET, 18, 15)]

    baseline = x_of_y(history, window, x=2, y=5, high=True)

    assert baseline == {window[0]: (2500 + 1000) // 2, window[1]: (2500 + 2000) // 2}


def test_same_day_adjustment_shifts_by_the_mean_pre_event_error() -> None:
    # reference days: 17:30 = 1000, 17:45 = 1200, 18:00 = 1500 on every working day;
    # the target day's actual 17:30 and 17:45 are 1300 and 1400 -> shift (300 + 200) / 2
    history: dict[int, int] = {}
    for d in (20, 23, 24, 25, 26):
        history |= {at(nov(d), 17, 30): 1000, at(nov(d), 17, 45): 1200, at(nov(d), 18): 1500}
    history |= {at(TARGET, 17, 30): 1300, at(TARGET, 17, 45): 1400}

    baseline = x_of_y(history, [at(TARGET, 18)], adjustment_slots=2)

    assert baseline == {at(TARGET, 18): 1500 + 250}


def test_adjustment_without_the_pre_event_readings_names_the_history() -> None:
    with pytest.raises(BaselineError, match="adjustment") as caught:
        x_of_y(
            TWO_WEEKS | {at(nov(d), 17, 45): 1 for d in range(16, 27)},  # none on the 27th
            [at(TARGET, 18)],
            adjustment_slots=1,
        )
    assert caught.value.field == "history"


def test_x_of_y_means_are_rounded_half_up() -> None:
    history = evening({26: 1, 25: 2, 24: -1, 23: -2})
    up = x_of_y(history, [at(TARGET, 18)], x=2, y=2)
    negative = x_of_y(history, [at(TARGET, 18)], x=2, y=4, high=True)  # 26 and 25: 1.5
    low = x_of_y(evening({24: -1, 23: -2}), [at(TARGET, 18)], x=2, y=2)
    assert up == negative == {at(TARGET, 18): 2}
    assert low == {at(TARGET, 18): -1}  # -1.5 rounds towards +infinity


def test_x_of_y_matches_wall_clock_across_the_dst_change() -> None:
    # Fri 27 March is CET (UTC+1), Mon 30 March is CEST (UTC+2): 18:00 is 17:00 vs 16:00 UTC
    friday, monday = date(2026, 3, 27), date(2026, 3, 30)
    history = {at(friday, 18): 700, at(friday, 19): 1}
    assert at(monday, 18) - at(friday, 18) == 3 * 86_400 - 3_600

    assert x_of_y(history, [at(monday, 18)], x=1, y=1) == {at(monday, 18): 700}


def test_target_slots_on_two_days_use_each_days_own_references() -> None:
    monday = nov(30)
    history = TWO_WEEKS | evening({27: 5000})
    baseline = x_of_y(history, [at(TARGET, 18), at(monday, 18)], x=1, y=1)
    assert baseline == {at(TARGET, 18): 2600, at(monday, 18): 5000}


def test_too_few_eligible_days_names_the_history_and_the_day() -> None:
    history = evening({24: 1, 25: 1, 26: 1})
    with pytest.raises(BaselineError, match=r"only 3 eligible days .* before 2026-11-27, 5") as e:
        x_of_y(history, [at(TARGET, 18)])
    assert e.value.field == "history"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target_slots": [at(TARGET, 18) + 60]}, "target_slots"),
        ({"target_slots": []}, "target_slots"),
        ({"x": 6}, "x"),
        ({"y": 0}, "y"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"adjustment_slots": -1}, "adjustment_slots"),
    ],
)
def test_x_of_y_bad_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"history": TWO_WEEKS, "target_slots": [at(TARGET, 18)]} | kwargs
    with pytest.raises(BaselineError) as caught:
        x_of_y(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


# --- meter before / after ----------------------------------------------------------------------


def test_meter_before_holds_the_mean_of_the_last_slots_flat() -> None:
    start = at(TARGET, 18)
    history = {
        start - 900 * k: wh for k, wh in zip((4, 3, 2, 1), (100, 200, 300, 401), strict=True)
    }

    baseline = meter_before(history, start, event_slots=3, before_slots=4)

    assert baseline == {start: 250, start + 900: 250, start + 1800: 250}  # 250.25 -> 250


def test_meter_before_with_a_missing_slot_names_it() -> None:
    start = at(TARGET, 18)
    history = {start - 900: 1, start - 1800: 1}
    with pytest.raises(BaselineError, match="2026-11-27T16:15Z") as caught:
        meter_before(history, start, event_slots=1, before_slots=3)
    assert caught.value.field == "history"


def test_meter_before_after_averages_both_sides() -> None:
    start, end = at(TARGET, 18), at(TARGET, 19)
    history = {start - 1800: 100, start - 900: 200, end: 300, end + 900: 401, start: 9_999}

    baseline = meter_before_after(history, start, end, n=2)

    assert baseline == dict.fromkeys(range(start, end, 900), 250)  # 250.25


def test_meter_before_after_rejects_an_end_before_the_start() -> None:
    with pytest.raises(BaselineError) as caught:
        meter_before_after({}, at(TARGET, 18), at(TARGET, 18))
    assert caught.value.field == "event_end"


def test_compute_baseline_dispatches_by_name_and_refuses_nominated() -> None:
    slots = [at(TARGET, 18)]
    params = MethodParams(x=2, y=5, high_x=1, high_y=5)
    assert compute_baseline(BaselineMethod.X_OF_Y, TWO_WEEKS, slots, params) == {slots[0]: 2550}
    assert compute_baseline(BaselineMethod.HIGH_X_OF_Y, TWO_WEEKS, slots, params) == {
        slots[0]: 2600
    }
    with pytest.raises(BaselineError) as caught:
        compute_baseline(BaselineMethod.NOMINATED, TWO_WEEKS, slots)
    assert caught.value.field == "method"


def test_meter_methods_refuse_a_gappy_event() -> None:
    with pytest.raises(BaselineError) as caught:
        compute_baseline(BaselineMethod.METER_BEFORE, {}, [at(TARGET, 18), at(TARGET, 19)])
    assert caught.value.field == "event_slots"


# --- nominated ---------------------------------------------------------------------------------


def test_nominated_keeps_the_requested_slots() -> None:
    values = {at(TARGET, 18): 500, at(TARGET, 18, 15): 600, at(TARGET, 19): 0}
    assert nominated(values, [at(TARGET, 18)]) == {at(TARGET, 18): 500}
    assert nominated(values) == values


@pytest.mark.parametrize(
    ("values", "slots", "allow_generation", "match"),
    [
        ({at(TARGET, 18) + 1: 5}, None, False, "not a slot start"),
        ({at(TARGET, 18): -5}, None, False, "negative"),
        ({at(TARGET, 18): 5.0}, None, False, "not an integer"),
        ({at(TARGET, 18): True}, None, False, "not an integer"),
        ({at(TARGET, 18): 5}, [at(TARGET, 18), at(TARGET, 19)], False, "1 requested slots"),
    ],
)
def test_bad_nominations_name_the_values(
    values: dict[int, int], slots: list[int] | None, allow_generation: bool, match: str
) -> None:
    with pytest.raises(BaselineError, match=match) as caught:
        nominated(values, slots, allow_generation=allow_generation)
    assert caught.value.field == "values"


def test_generation_is_allowed_when_asked() -> None:
    assert nominated({at(TARGET, 18): -5}, allow_generation=True) == {at(TARGET, 18): -5}


# --- the hash ----------------------------------------------------------------------------------

HASH_INPUT = {at(TARGET, 18): 1500, at(TARGET, 18, 15): 1400}


def word(value: int) -> bytes:
    return (value % 2**256).to_bytes(32, "big")  # two's complement, as int64 encodes


def text(value: str) -> bytes:
    raw = value.encode()
    return word(len(raw)) + raw + b"\0" * (-len(raw) % 32)


def array(values: list[int]) -> bytes:
    return word(len(values)) + b"".join(word(v) for v in values)


def encoding_by_hand(address: str, subject: str, method: str, wh: dict[int, int]) -> bytes:
    """The documented abi.encode layout, built word by word: six head words (offsets for the
    dynamic fields, the address in place), then the tails in order."""
    slots = sorted(wh)
    tails = [
        text("flexledger.baseline.v1"),
        text(subject),
        text(method),
        array(slots),
        array([wh[s] for s in slots]),
    ]
    offsets, position = [], 6 * 32
    for tail in tails:
        offsets.append(word(position))
        position += len(tail)
    head = [offsets[0], bytes(12) + bytes.fromhex(address[2:]), *offsets[1:]]
    return b"".join(head) + b"".join(tails)


def test_hash_follows_the_documented_encoding() -> None:
    values = HASH_INPUT | {at(TARGET, 18, 30): -250}
    expected = keccak(encoding_by_hand(FSP, "asset-1", "high_x_of_y", values))
    assert baseline_hash(FSP, "asset-1", BaselineMethod.HIGH_X_OF_Y, values) == expected


def test_hash_is_pinned_and_independent_of_order_and_address_case() -> None:
    digest = baseline_hash(FSP, "asset-1", BaselineMethod.X_OF_Y, HASH_INPUT)
    reordered = dict(reversed(list(HASH_INPUT.items())))
    # pinned: a change of the encoding must be deliberate (and get a new domain tag)
    assert digest.hex() == "a35781adad31f3556f67e7db3179d6d39c7d3114e1ea3f112b43443243ec9d71"
    upper = "0x" + FSP[2:].upper()
    assert baseline_hash(upper, "asset-1", "x_of_y", reordered) == digest


@pytest.mark.parametrize(
    "changed",
    [
        {"fsp_address": "0x" + "ac" * 20},
        {"subject_id": "asset-2"},
        {"method": BaselineMethod.HIGH_X_OF_Y},
        {"baseline_wh": {at(TARGET, 18): 1500, at(TARGET, 18, 30): 1400}},
        {"baseline_wh": {at(TARGET, 18): 1500, at(TARGET, 18, 15): 1401}},
        {"baseline_wh": HASH_INPUT | {at(TARGET, 18, 30): 0}},
    ],
)
def test_hash_changes_with_every_input(changed: dict[str, object]) -> None:
    args: dict[str, object] = {
        "fsp_address": FSP,
        "subject_id": "asset-1",
        "method": BaselineMethod.X_OF_Y,
        "baseline_wh": HASH_INPUT,
    }
    original = baseline_hash(**args)  # type: ignore[arg-type]
    assert baseline_hash(**(args | changed)) != original  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("0x1234", "a", BaselineMethod.X_OF_Y, HASH_INPUT), "fsp_address"),
        ((FSP, "", BaselineMethod.X_OF_Y, HASH_INPUT), "subject_id"),
        ((FSP, "a", "median", HASH_INPUT), "method"),
        ((FSP, "a", BaselineMethod.X_OF_Y, {}), "baseline_wh"),
        ((FSP, "a", BaselineMethod.X_OF_Y, {901: 1}), "baseline_wh"),
        ((FSP, "a", BaselineMethod.X_OF_Y, {900: 2**63}), "baseline_wh"),
    ],
)
def test_hash_inputs_are_checked(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(BaselineError) as caught:
        baseline_hash(*args)  # type: ignore[arg-type]
    assert caught.value.field == field


# --- accuracy ----------------------------------------------------------------------------------


def test_backtest_numbers_on_a_hand_made_history() -> None:
    # 18:00 on Mon 23 .. Thu 26: 100, 200, 300, 600; 2 of 2 over the last two days gives
    # Wed: (200 + 100) / 2 = 150 vs 300; Thu: (300 + 200) / 2 = 250 vs 600 -> errors -150, -350
    history = evening({23: 100, 24: 200, 25: 300, 26: 600})
    window = EvaluationWindow(start=time(18), slot_count=1)

    report = backtest(
        history, BaselineMethod.X_OF_Y, days=2, params=MethodParams(x=2, y=2), window=window
    )

    assert (report.method, report.days, report.slots) == (BaselineMethod.X_OF_Y, 2, 2)
    assert report.mae_wh == 250
    assert report.bias_wh == -250  # negative: baseline too low, the FSP would be underpaid
    assert report.rmse_wh == pytest.approx(math.sqrt((150**2 + 350**2) / 2))
    assert report.nmae_pct == pytest.approx(100 * 500 / 900)


def test_backtest_skips_excluded_days_and_hides_the_window() -> None:
    # the 18:00 window of each day is 1000; meter-before sees 17:00-17:45 = 400 on Thu only
    history = evening({d: 1000 for d in range(23, 27)})
    history |= {at(nov(26), 17, 15 * k): 400 for k in range(4)}
    history |= {at(nov(25), 17, 15 * k): 1000 for k in range(4)}
    window = EvaluationWindow(start=time(18), slot_count=1)

    report = backtest(
        history, BaselineMethod.METER_BEFORE, days=1, window=window, exclude_days=[nov(26)]
    )

    assert (report.mae_wh, report.bias_wh) == (0, 0)  # Wed 25 evaluated, not Thu 26


def test_backtest_with_too_few_days_names_days() -> None:
    with pytest.raises(BaselineError, match="only 9 complete evaluation days") as caught:
        backtest(
            TWO_WEEKS,
            BaselineMethod.X_OF_Y,
            days=20,
            window=EvaluationWindow(start=time(18), slot_count=1),
        )
    assert caught.value.field == "days"


def full_days(first: date, count: int, wh_of: object) -> dict[int, int]:
    """Every slot of ``count`` Berlin days from ``first``; ``wh_of(day_index, slot_index)``."""
    history: dict[int, int] = {}
    for i in range(count):
        start = at(first + timedelta(days=i), 0)
        end = at(first + timedelta(days=i + 1), 0)
        for k, slot in enumerate(range(start, end, 900)):
            history[slot] = wh_of(i, k)  # type: ignore[operator]
    return history


def test_compare_methods_reports_every_method_and_a_flat_history_is_exact() -> None:
    history = full_days(nov(2), 26, lambda i, k: 700)

    reports = compare_methods(history, days=5)

    assert list(reports) == list(COMPUTABLE)
    for method, report in reports.items():
        assert report.method == method
        assert (report.days, report.slots) == (5, 5 * 16)
        assert (report.mae_wh, report.bias_wh, report.rmse_wh, report.nmae_pct) == (0, 0, 0, 0)


def test_x_of_y_beats_meter_before_on_a_daily_pattern() -> None:
    # a strong evening ramp repeated every day: meter-before lags, X of Y has it exactly
    history = full_days(nov(2), 26, lambda i, k: 200 + 20 * k)

    reports = compare_methods(history, days=5)

    assert reports[BaselineMethod.X_OF_Y].mae_wh == 0
    assert reports[BaselineMethod.METER_BEFORE].bias_wh < 0


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    level=st.integers(min_value=-5_000, max_value=50_000),
    x=st.integers(min_value=1, max_value=5),
    extra=st.integers(min_value=0, max_value=3),
    high=st.booleans(),
    hour=st.integers(min_value=0, max_value=23),
)
def test_x_of_y_of_a_constant_history_is_that_constant(
    level: int, x: int, extra: int, high: bool, hour: int
) -> None:
    history = evening({d: level for d in range(2, 27)}, hh=hour)
    baseline = x_of_y(history, [at(TARGET, hour)], x=x, y=x + extra, high=high)
    assert baseline == {at(TARGET, hour): level}


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=4_000), min_size=14 * 4, max_size=14 * 4),
    method=st.sampled_from(COMPUTABLE),
)
def test_mae_bounds_bias_and_rmse_bounds_mae(values: list[int], method: BaselineMethod) -> None:
    # 14 days with data from 17:00 to 18:45 local; the window is 18:00-18:15
    history: dict[int, int] = {}
    for i in range(14):
        for k in range(4):
            for hh in (17, 18):
                history[at(nov(2) + timedelta(days=i), hh, 15 * k)] = values[4 * i + k] + hh
    params = MethodParams(x=2, y=3, high_x=2, high_y=3, before_after_slots=2)
    window = EvaluationWindow(start=time(18), slot_count=2)

    report = backtest(history, method, days=3, params=params, window=window)

    assert report.mae_wh >= abs(report.bias_wh) - 1e-9
    assert report.rmse_wh >= report.mae_wh - 1e-9
