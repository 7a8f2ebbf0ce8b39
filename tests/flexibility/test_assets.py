"""Asset models: hand-computed limits, rebound, errors naming the field, and properties that
no accepted activation breaks a constraint."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexibility import (
    SLOTS_PER_DAY,
    ChargingSession,
    EVCharger,
    FlexibilityInputError,
    HomeBattery,
    InfeasibleError,
)
from flexibility.limits import largest_feasible
from oracle.types import Direction
from tests.flexibility.factories import battery, ev, heat_pump

UP, DOWN = Direction.UP, Direction.DOWN
TOLERANCE = 1e-9

# --- battery -----------------------------------------------------------------------------------


def test_idle_battery_limits_by_hand() -> None:
    # 4000 Wh above soc_min leave at 0.9 per Wh: 16 slots * p * 0.25 / 0.9 <= 4000 -> 900 W;
    # 5000 Wh of room fill at 0.9: 16 * p * 0.25 * 0.9 <= 5000 -> 1388.9 W
    b = battery()
    assert b.baseline_w() == [0] * SLOTS_PER_DAY
    assert b.max_block_w(UP, 0, 16) == 900
    assert b.max_block_w(DOWN, 0, 16) == 1388
    assert set(b.flexibility()) == {(5000, 5000)}  # one slot alone: the power limit


def test_battery_rejects_power_and_soc_beyond_limits() -> None:
    with pytest.raises(InfeasibleError, match="slot 3: 5001 W exceeds") as power:
        battery().dispatch_w({3: -5001})
    with pytest.raises(
        InfeasibleError, match=r"slot 15: state of charge would reach 0\.0996"
    ) as soc:
        battery().dispatch_w(dict.fromkeys(range(16), 901))
    assert power.value.field == soc.value.field == "activation"


def test_battery_rebound_shrinks_the_planned_evening_discharge() -> None:
    # the plan empties the usable 4000 Wh at 1800 W over 18:00-20:00 (500 Wh a slot)
    plan = tuple(-1800 if 72 <= s < 80 else 0 for s in range(SLOTS_PER_DAY))
    b = battery(schedule_w=plan)

    power = b.dispatch_w({60: 1800})  # 500 Wh more at 15:00 ...

    assert power[60] == -1800
    assert power[72:79] == [-1800] * 7
    assert power[79] == 0  # ... so the last planned slot has nothing left to give
    assert min(b.soc(power)) >= b.soc_min - TOLERANCE


def test_an_infeasible_schedule_names_it() -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        battery(schedule_w=(-5000,) * SLOTS_PER_DAY)
    assert caught.value.field == "schedule_w"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"capacity_kwh": 0.0}, "capacity_kwh"),
        ({"soc_start": 0.05}, "soc_start"),
        ({"efficiency": 1.2}, "efficiency"),
        ({"schedule_w": (0, 0)}, "schedule_w"),
    ],
)
def test_bad_battery_parameters_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        battery(**changes)
    assert caught.value.field == field


def test_battery_ask_covers_degradation_through_losses() -> None:
    assert battery().marginal_price_cents_per_mwh(UP) == round(45 / 0.81 * 100)


batteries = st.builds(
    HomeBattery,
    capacity_kwh=st.floats(1.0, 20.0),
    power_kw=st.floats(0.5, 10.0),
    soc_start=st.floats(0.1, 1.0),
    soc_min=st.floats(0.0, 0.1),
    efficiency=st.floats(0.7, 1.0),
    degradation_eur_per_mwh=st.just(40.0),
)
activations = st.dictionaries(
    st.integers(0, SLOTS_PER_DAY - 1), st.integers(-12_000, 12_000), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(b=batteries, activation=activations)
def test_no_accepted_activation_breaks_soc_or_power(
    b: HomeBattery, activation: dict[int, int]
) -> None:
    try:
        power = b.dispatch_w(activation)
    except InfeasibleError:
        return
    assert all(abs(p) <= b.power_w for p in power)
    assert all(b.soc_min - 1e-6 <= soc <= b.soc_max + 1e-6 for soc in b.soc(power))


@settings(max_examples=60, deadline=None)
@given(
    b=batteries,
    direction=st.sampled_from(Direction),
    first=st.integers(0, 80),
    count=st.integers(1, 16),
)
def test_max_block_is_feasible_and_one_watt_more_is_not(
    b: HomeBattery, direction: Direction, first: int, count: int
) -> None:
    best = b.max_block_w(direction, first, count)
    sign = 1 if direction == UP else -1
    b.dispatch_w(dict.fromkeys(range(first, first + count), sign * best))
    if best < b.power_w:
        with pytest.raises(InfeasibleError):
            b.dispatch_w(dict.fromkeys(range(first, first + count), sign * (best + 1)))


# --- EV charger --------------------------------------------------------------------------------


def test_uncontrolled_charging_is_the_baseline() -> None:
    assert ev().baseline_w()[70:78] == [0, 0, 11000, 11000, 11000, 11000, 0, 0]


def test_stopping_the_charge_moves_it_later() -> None:
    power = ev().dispatch_w({72: 11000, 73: 11000})
    assert power[70:80] == [0, 0, 0, 0, 11000, 11000, 11000, 11000, 0, 0]


def test_extra_charging_later_is_taken_from_the_first_slots_planned() -> None:
    power = ev().dispatch_w({80: -11000})
    assert power[72:81] == [11000, 11000, 11000, 0, 0, 0, 0, 0, 11000]


def test_a_tight_session_has_no_up_flexibility() -> None:
    tight = ev(sessions=(ChargingSession(72, 76, 11.0),))
    assert tight.max_block_w(UP, 72, 1) == 0
    with pytest.raises(InfeasibleError, match=r"would miss 0\.69 kWh by departure at slot 76"):
        tight.dispatch_w({72: 2750})


@pytest.mark.parametrize(
    ("activation", "match"),
    [
        ({10: 1000}, "slot 10: no car is plugged in"),
        ({10: -1000}, "slot 10: no car is plugged in"),
        ({80: -12000}, "outside 0..11000 W"),
        (dict.fromkeys(range(76, 81), -11000), "2.75 kWh more than the 11.0 kWh"),
    ],
)
def test_impossible_ev_activations(activation: dict[int, int], match: str) -> None:
    with pytest.raises(InfeasibleError, match=match) as caught:
        ev().dispatch_w(activation)
    assert caught.value.field == "activation"


@pytest.mark.parametrize(
    "sessions",
    [
        (ChargingSession(72, 70, 1.0),),
        (ChargingSession(60, 80, 1.0), ChargingSession(70, 90, 1.0)),
        (ChargingSession(90, 92, 6.0),),  # 2 slots at 11 kW give 5.5 kWh
        (ChargingSession(90, 97, 1.0),),
    ],
)
def test_bad_sessions_name_the_field(sessions: tuple[ChargingSession, ...]) -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        ev(sessions=sessions)
    assert caught.value.field == "sessions"


@st.composite
def chargers(draw: st.DrawFn) -> EVCharger:
    max_kw = draw(st.sampled_from((3.7, 11.0, 22.0)))
    arrival = draw(st.integers(0, 90))
    departure = draw(st.integers(arrival + 1, SLOTS_PER_DAY))
    most_kwh = max_kw * (departure - arrival) / 4
    need = draw(st.floats(0.0, most_kwh)) // 0.1 / 10
    return EVCharger(max_kw=max_kw, sessions=(ChargingSession(arrival, departure, need),))


@settings(max_examples=150, deadline=None)
@given(charger=chargers(), activation=activations)
def test_every_accepted_activation_meets_the_energy_need_by_departure(
    charger: EVCharger, activation: dict[int, int]
) -> None:
    try:
        power = charger.dispatch_w(activation)
    except InfeasibleError:
        return
    (session,) = charger.sessions
    assert sum(power[s] for s in session.slots) == session.need_w_slots
    assert all(0 <= p <= charger.max_w for p in power)
    assert all(power[s] == 0 for s in range(SLOTS_PER_DAY) if s not in session.slots)


@settings(max_examples=40, deadline=None)
@given(charger=chargers(), first=st.integers(0, 90), count=st.integers(1, 6))
def test_ev_block_offers_are_deliverable(charger: EVCharger, first: int, count: int) -> None:
    best = charger.max_block_w(UP, first, count)
    power = charger.dispatch_w(dict.fromkeys(range(first, first + count), best))
    assert charger.delivered_kwh(power, charger.sessions[0]) == pytest.approx(
        charger.sessions[0].energy_kwh
    )


# --- heat pump ---------------------------------------------------------------------------------


def test_the_thermostat_holds_the_setpoint() -> None:
    hp = heat_pump()
    temperatures = hp.indoor_c(hp.baseline_w())
    assert max(abs(t - hp.setpoint_c) for t in temperatures) < 0.01
    assert 0 < min(hp.baseline_w()) <= max(hp.baseline_w()) < hp.electric_w


def test_a_pause_cools_the_house_and_the_thermostat_reheats_it() -> None:
    hp = heat_pump()
    base = hp.baseline_w()
    pause = {s: base[s] for s in range(68, 72)}  # off for an hour from 17:00

    power = hp.dispatch_w(pause)
    temperatures = hp.indoor_c(power)

    assert power[68:72] == [0, 0, 0, 0]
    assert temperatures[72] < hp.setpoint_c - 0.2
    assert power[72] > base[72]  # the rebound
    assert abs(temperatures[80] - hp.setpoint_c) < 0.01
    assert all(
        hp.comfort_min_c - TOLERANCE <= t <= hp.comfort_max_c + TOLERANCE for t in temperatures
    )


def test_a_long_pause_leaves_the_comfort_band() -> None:
    hp = heat_pump()
    base = hp.baseline_w()
    with pytest.raises(InfeasibleError, match="leaves the comfort band"):
        hp.dispatch_w({s: base[s] for s in range(64, 96)})
    best = hp.max_block_w(UP, 64, 32)
    assert 0 < best < min(base[64:96])


def test_an_undersized_heat_pump_is_refused() -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        heat_pump(electric_kw=0.5)
    assert caught.value.field == "electric_kw"


@settings(max_examples=60, deadline=None)
@given(
    activation=st.dictionaries(
        st.integers(0, SLOTS_PER_DAY - 1), st.integers(-3_000, 3_000), max_size=24
    )
)
def test_every_accepted_heat_pump_activation_stays_in_the_band(
    activation: dict[int, int],
) -> None:
    hp = heat_pump()
    try:
        power = hp.dispatch_w(activation)
    except InfeasibleError:
        return
    assert all(0 <= p <= hp.electric_w for p in power)
    assert all(
        hp.comfort_min_c - TOLERANCE <= t <= hp.comfort_max_c + TOLERANCE
        for t in hp.indoor_c(power)
    )


# --- the search --------------------------------------------------------------------------------


@given(threshold=st.integers(-5, 20_000), upper=st.integers(-5, 20_000))
def test_largest_feasible_finds_the_threshold(threshold: int, upper: int) -> None:
    found = largest_feasible(lambda w: w <= threshold, upper)
    assert found == max(0, min(threshold, upper))


def test_activation_slots_outside_the_day_are_refused() -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        battery().dispatch_w({96: 1})
    assert caught.value.field == "activation"
