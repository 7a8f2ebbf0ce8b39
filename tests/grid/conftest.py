"""Session-wide days on the CIGRE LV grid: each costs 96 power flows, so they are shared.

Tests must not change these objects (``run_day`` and ``flexibility_needs`` work on copies).
"""

import pytest
from pandapower.auxiliary import pandapowerNet

from grid import (
    DayResult,
    FlexNeed,
    ScenarioProfiles,
    apply_needs,
    day_profiles,
    flexibility_needs,
    load_network,
    run_day,
)
from tests.grid.factories import SEED, SUMMER_DAY, WINTER_DAY


@pytest.fixture(scope="session")
def cigre_lv() -> pandapowerNet:
    return load_network("cigre-lv")


@pytest.fixture(scope="session")
def evening(cigre_lv: pandapowerNet) -> ScenarioProfiles:
    return day_profiles(cigre_lv, WINTER_DAY, SEED, "evening-peak")


@pytest.fixture(scope="session")
def evening_day(cigre_lv: pandapowerNet, evening: ScenarioProfiles) -> DayResult:
    return run_day(cigre_lv, evening)


@pytest.fixture(scope="session")
def evening_needs(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles, evening_day: DayResult
) -> list[FlexNeed]:
    return flexibility_needs(cigre_lv, evening, evening_day)


@pytest.fixture(scope="session")
def relieved_day(
    cigre_lv: pandapowerNet, evening: ScenarioProfiles, evening_needs: list[FlexNeed]
) -> DayResult:
    return run_day(cigre_lv, apply_needs(evening, evening_needs))


@pytest.fixture(scope="session")
def cigre_lv_pv() -> pandapowerNet:
    return load_network("cigre-lv-pv")


@pytest.fixture(scope="session")
def sunny(cigre_lv_pv: pandapowerNet) -> ScenarioProfiles:
    return day_profiles(cigre_lv_pv, SUMMER_DAY, SEED, "sunny-noon")


@pytest.fixture(scope="session")
def sunny_day(cigre_lv_pv: pandapowerNet, sunny: ScenarioProfiles) -> DayResult:
    return run_day(cigre_lv_pv, sunny)
