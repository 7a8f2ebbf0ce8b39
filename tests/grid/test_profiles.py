import numpy as np
import pandas as pd
import pytest
from pandapower.auxiliary import pandapowerNet

from grid import GridInputError, ScenarioProfiles, ScenarioSpec, day_profiles, load_network
from grid.profiles import (
    SLOTS,
    commercial_shape,
    heat_pump_shape,
    outdoor_temperature_c,
    pv_clear_sky_shape,
    residential_shape,
)
from tests.grid.factories import SEED, SUMMER_DAY, WINTER_DAY

# Before 03:00 and after 21:00 UTC the sun is down at 50° N, 8° E even in July.
NIGHT = list(range(0, 3 * 4)) + list(range(21 * 4, SLOTS))


def test_profiles_cover_every_load_and_generator_for_96_slots(
    cigre_lv_pv: pandapowerNet, sunny: ScenarioProfiles
) -> None:
    assert sunny.load_p_mw.shape == (SLOTS, len(cigre_lv_pv.load))
    assert sunny.sgen_p_mw.shape == (SLOTS, len(cigre_lv_pv.sgen))
    assert list(sunny.load_p_mw.columns) == list(cigre_lv_pv.load.index)
    assert list(sunny.load_p_mw.index) == list(range(SLOTS))
    assert sunny.flex_p_mw.empty and sunny.scenario == "sunny-noon"


def test_the_same_day_and_seed_give_the_same_profiles(cigre_lv_pv: pandapowerNet) -> None:
    first = day_profiles(cigre_lv_pv, SUMMER_DAY, SEED, "typical")
    again = day_profiles(cigre_lv_pv, SUMMER_DAY, SEED, "typical")

    pd.testing.assert_frame_equal(first.load_p_mw, again.load_p_mw)
    pd.testing.assert_frame_equal(first.sgen_p_mw, again.sgen_p_mw)


def test_another_seed_or_day_gives_other_profiles(cigre_lv_pv: pandapowerNet) -> None:
    first = day_profiles(cigre_lv_pv, SUMMER_DAY, SEED, "typical")
    other_seed = day_profiles(cigre_lv_pv, SUMMER_DAY, SEED + 1, "typical")
    other_day = day_profiles(cigre_lv_pv, WINTER_DAY, SEED, "typical")

    assert not np.allclose(first.load_p_mw, other_seed.load_p_mw)
    assert not np.allclose(first.sgen_p_mw, other_day.sgen_p_mw)


@pytest.mark.parametrize("name", ["cigre-lv-pv", "cigre-mv"])
def test_pv_is_zero_at_night_and_peaks_around_noon(name: str) -> None:
    net = load_network(name)
    profiles = day_profiles(net, SUMMER_DAY, SEED, "sunny-noon")
    pv = profiles.sgen_p_mw[net.sgen.index[net.sgen.type == "PV"]]

    assert (pv.loc[NIGHT] == 0).all().all()
    assert (pv >= 0).all().all()
    assert 10 * 4 <= int(pv.sum(axis=1).idxmax()) <= 13 * 4


def test_pv_never_exceeds_its_rating(sunny: ScenarioProfiles, cigre_lv_pv: pandapowerNet) -> None:
    assert (sunny.sgen_p_mw.max() <= cigre_lv_pv.sgen.p_mw + 1e-12).all()


def test_winter_days_are_shorter_and_weaker_for_pv() -> None:
    summer, winter = pv_clear_sky_shape(SUMMER_DAY), pv_clear_sky_shape(WINTER_DAY)

    assert np.count_nonzero(winter) < np.count_nonzero(summer)
    assert winter.max() < 0.5 * summer.max() and summer.max() <= 1.0


def test_residential_peaks_in_the_evening_and_commercial_in_business_hours() -> None:
    residential, commercial = residential_shape(), commercial_shape()

    assert 18 * 4 <= int(np.argmax(residential)) <= 20 * 4 and residential.max() == 1.0
    assert residential[8 * 4] < residential[19 * 4]
    assert commercial[12 * 4] > 3 * commercial[2 * 4]
    assert commercial[2 * 4] == pytest.approx(0.25, abs=0.01)


def test_heat_pumps_follow_the_cold() -> None:
    winter = heat_pump_shape(outdoor_temperature_c(WINTER_DAY, 0.0))
    summer = heat_pump_shape(outdoor_temperature_c(SUMMER_DAY, 0.0))
    warm_summer = heat_pump_shape(outdoor_temperature_c(SUMMER_DAY, 2.0))

    assert (warm_summer == 0).all() and summer.sum() < 0.05 * winter.sum()
    assert winter.min() > 0 and winter[3 * 4] > winter[15 * 4]  # colder at night
    assert heat_pump_shape(np.array([-12.0, 15.0, 30.0])).tolist() == [1.0, 0.0, 0.0]


def test_commercial_loads_follow_business_hours(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles
) -> None:
    by_name = evening.load_p_mw.rename(columns=cigre_lv.load.name)

    assert by_name["Load C1"].idxmax() < 18 * 4 < by_name["Load R1"].idxmax()


def test_households_draw_more_than_their_nominal_power_on_the_evening_peak_day(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles
) -> None:
    households = cigre_lv.load.index[cigre_lv.load.name.str.startswith("Load R")]
    peak = evening.load_p_mw[households].sum(axis=1)

    assert peak.max() > 1.3 * cigre_lv.load.p_mw[households].sum()
    assert 18 * 4 <= int(peak.idxmax()) <= 21 * 4


def test_a_custom_scenario_spec_scales_the_shapes(cigre_lv: pandapowerNet) -> None:
    idle = ScenarioSpec(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    profiles = day_profiles(cigre_lv, WINTER_DAY, SEED, idle)

    assert (profiles.load_p_mw == 0).all().all() and profiles.scenario == "custom"


def test_an_unknown_scenario_is_named(cigre_lv: pandapowerNet) -> None:
    with pytest.raises(GridInputError, match=r"scenario: unknown scenario 'heatwave'"):
        day_profiles(cigre_lv, WINTER_DAY, SEED, "heatwave")
