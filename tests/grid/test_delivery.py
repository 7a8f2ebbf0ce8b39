import pytest
from pandapower.auxiliary import pandapowerNet

from grid import (
    DayResult,
    Element,
    FlexNeed,
    GridInputError,
    ScenarioProfiles,
    activations_of,
    apply_flexibility,
    compare,
    critical_element,
    find_violations,
)

RESIDENTIAL_TRAFO = Element("trafo", 0)


def test_up_flexibility_lowers_consumption_at_the_bus(evening: ScenarioProfiles) -> None:
    delivered = apply_flexibility(evening, {(19, 76): 12.5, (19, 77): 10.0, (16, 76): 3.0}, "up")

    flex = delivered.flex_p_mw
    assert list(flex.columns) == [16, 19]
    assert flex.loc[76, 19] == pytest.approx(-0.0125) and flex.loc[77, 19] == pytest.approx(-0.01)
    assert flex[19].drop([76, 77]).eq(0).all()
    assert evening.flex_p_mw.empty  # the original profiles are unchanged


def test_down_flexibility_adds_consumption_and_both_directions_add_up(
    evening: ScenarioProfiles,
) -> None:
    up = apply_flexibility(evening, {(19, 76): 10.0}, "up")
    both = apply_flexibility(up, {(19, 76): 4.0}, "down")

    assert both.flex_p_mw.loc[76, 19] == pytest.approx(-0.006)


def test_activations_of_needs_keep_one_direction(evening_needs: list[FlexNeed]) -> None:
    up = activations_of(evening_needs, "up")

    assert activations_of(evening_needs, "down") == {}
    assert sum(up.values()) == pytest.approx(sum(n.kw for n in evening_needs))


@pytest.mark.parametrize(
    ("activations", "direction", "message"),
    [
        ({(19, 96): 1.0}, "up", "activations: slot 96 of bus 19 is not in 0..95"),
        ({(19, 10): -1.0}, "up", "activations: kW at bus 19, slot 10 must be 0 or more"),
        ({(19, 10): 1.0}, "sideways", "direction: must be 'up' or 'down'"),
    ],
)
def test_bad_activations_are_named(
    evening: ScenarioProfiles,
    activations: dict[tuple[int, int], float],
    direction: str,
    message: str,
) -> None:
    with pytest.raises(GridInputError, match=message):
        apply_flexibility(evening, activations, direction)  # type: ignore[arg-type]


def test_the_critical_element_is_the_worst_relative_violation(
    cigre_lv: pandapowerNet, evening_day: DayResult
) -> None:
    violations = find_violations(cigre_lv, evening_day)

    under = [v for v in violations if v.element_kind == "bus"]
    lowest = min(under, key=lambda v: v.value)

    # The transformer is 13 % over its limit; the lowest voltage (0.88 p.u.) 7 % under.
    assert critical_element(violations) == RESIDENTIAL_TRAFO
    assert critical_element(under) == lowest.element
    with pytest.raises(GridInputError, match=r"violations: no violations"):
        critical_element([])


def test_compare_shows_the_relief_per_slot(evening_day: DayResult, relieved_day: DayResult) -> None:
    table = compare(evening_day, relieved_day, RESIDENTIAL_TRAFO)

    assert list(table.columns) == ["before", "after", "change"]
    assert table.before.max() > 110 and table.after.max() <= 100
    assert (table.change.loc[73:80] < -5).all()
    assert table.change.loc[0:60].abs().max() < 1e-6  # no flexibility bought before 16:30


def test_compare_names_an_element_the_results_lack(
    evening_day: DayResult, relieved_day: DayResult
) -> None:
    with pytest.raises(GridInputError, match=r"element: before has no trafo3w 0"):
        compare(evening_day, relieved_day, Element("trafo3w", 0))
