from dataclasses import replace

import numpy as np
import pandapower as pp
import pytest
from pandapower.auxiliary import pandapowerNet

from grid import DayResult, PowerFlowError, ProfileError, ScenarioProfiles, run_day
from grid.profiles import SLOTS
from grid.timeseries import SlotSolver

PEAK = 76  # 19:00-19:15 UTC


def test_a_day_has_96_slots_of_every_result(
    cigre_lv: pandapowerNet, evening_day: DayResult
) -> None:
    assert evening_day.line_loading_pct.shape == (SLOTS, len(cigre_lv.line))
    assert evening_day.trafo_loading_pct.shape == (SLOTS, len(cigre_lv.trafo))
    assert evening_day.trafo3w_loading_pct.shape == (SLOTS, 0)
    assert evening_day.bus_vm_pu.shape == (SLOTS, len(cigre_lv.bus))
    assert evening_day.grid_p_mw.shape == (SLOTS,)
    assert evening_day.elapsed_s > 0
    assert not evening_day.bus_vm_pu.isna().any().any()


def test_a_slot_matches_a_plain_power_flow_of_its_powers(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles, evening_day: DayResult
) -> None:
    net = pp.networks.create_cigre_network_lv()
    tan_phi = net.load.q_mvar / net.load.p_mw
    net.load["p_mw"] = evening.load_p_mw.loc[PEAK]
    net.load["q_mvar"] = net.load.p_mw * tan_phi
    pp.runpp(net)

    assert np.allclose(evening_day.bus_vm_pu.loc[PEAK], net.res_bus.vm_pu, atol=1e-7)
    assert np.allclose(evening_day.trafo_loading_pct.loc[PEAK], net.res_trafo.loading_percent)
    assert evening_day.grid_p_mw[PEAK] == pytest.approx(net.res_ext_grid.p_mw.sum())


def test_the_input_network_is_left_alone(cigre_lv: pandapowerNet, evening_day: DayResult) -> None:
    assert cigre_lv.load.p_mw.sum() == pytest.approx(0.6866)
    assert len(cigre_lv.load) == 15


def test_the_evening_peak_loads_the_residential_transformer_most(evening_day: DayResult) -> None:
    residential = evening_day.trafo_loading_pct[0]

    assert residential.max() > 110
    assert 18 * 4 <= int(residential.idxmax()) <= 20 * 4
    assert residential.min() < 50


def test_without_numba_the_results_are_the_same(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles, evening_day: DayResult
) -> None:
    plain = SlotSolver(cigre_lv, evening, numba=False).solve(PEAK)

    assert np.allclose(plain.bus_vm_pu, evening_day.bus_vm_pu.loc[PEAK], atol=1e-9)
    assert np.allclose(plain.line_loading_pct, evening_day.line_loading_pct.loc[PEAK])


def test_a_profile_with_a_missing_slot_is_named(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles
) -> None:
    short = replace(evening, load_p_mw=evening.load_p_mw.iloc[:95])

    with pytest.raises(ProfileError, match=r"load_p_mw: index must be the slots 0..95; got 95"):
        run_day(cigre_lv, short)


def test_a_profile_for_other_elements_is_named(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles
) -> None:
    wrong = replace(evening, load_p_mw=evening.load_p_mw.drop(columns=[3]).assign(**{"99": 0.0}))

    with pytest.raises(ProfileError, match=r"load_p_mw: .*missing \[3\], extra \['99'\]"):
        run_day(cigre_lv, wrong)


def test_a_profile_with_gaps_is_named(cigre_lv: pandapowerNet, evening: ScenarioProfiles) -> None:
    gappy = evening.load_p_mw.copy()
    gappy.loc[10, 2] = np.nan

    with pytest.raises(ProfileError, match=r"load_p_mw: has NaN"):
        run_day(cigre_lv, replace(evening, load_p_mw=gappy))


def test_flexibility_at_an_unknown_bus_is_named(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles
) -> None:
    flex = evening.flex_p_mw.assign(**{"500": 0.0})

    with pytest.raises(ProfileError, match=r"flex_p_mw: columns \['500'\] are not buses"):
        run_day(cigre_lv, evening.with_flex(flex))


def test_a_slot_that_does_not_converge_is_named(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles
) -> None:
    overloaded = evening.load_p_mw.copy()
    overloaded.loc[2] *= 50

    with pytest.raises(PowerFlowError, match=r"slot 2: power flow did not converge") as caught:
        run_day(cigre_lv, replace(evening, load_p_mw=overloaded))
    assert caught.value.slot == 2
