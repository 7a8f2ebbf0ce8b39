"""Simulated metering of a delivered activation."""

import pytest

from flexibility import (
    FlexibilityInputError,
    energy_wh,
    simulate_asset_delivery,
    simulate_metering,
)
from tests.flexibility.factories import battery, ev, registered

BASELINE = [1000, 2000, 3000, 3000]
REDUCTION = [0, 1000, 2000, 0]


def test_full_performance_without_noise_meters_the_dispatch() -> None:
    assert simulate_metering(BASELINE, REDUCTION) == [1000, 1000, 1000, 3000]


def test_half_performance_delivers_half() -> None:
    assert simulate_metering(BASELINE, REDUCTION, performance=0.5) == [1000, 1500, 2000, 3000]


def test_noise_is_deterministic_per_seed() -> None:
    first = simulate_metering(BASELINE, REDUCTION, noise_std_w=100.0, seed=3)
    assert simulate_metering(BASELINE, REDUCTION, noise_std_w=100.0, seed=3) == first
    assert simulate_metering(BASELINE, REDUCTION, noise_std_w=100.0, seed=4) != first
    assert first != [1000, 1000, 1000, 3000]


def test_consumption_never_meters_negative_unless_the_asset_generates() -> None:
    assert simulate_metering([0, 0], [1000, 0]) == [0, 0]
    assert simulate_metering([0, 0], [1000, 0], allow_negative=True) == [-1000, 0]


def test_an_asset_delivery_includes_its_rebound() -> None:
    car = registered(ev(), "car")
    metered = simulate_asset_delivery(car, {72: 11000}, performance=1.0)
    assert metered[71:78] == [0, 0, 11000, 11000, 11000, 11000, 0]


def test_asset_noise_differs_between_assets_with_the_same_seed() -> None:
    plan = dict.fromkeys(range(68, 72), 3000)
    one = simulate_asset_delivery(registered(battery(), "b1"), plan, noise_std_w=50.0, seed=1)
    two = simulate_asset_delivery(registered(battery(), "b2"), plan, noise_std_w=50.0, seed=1)
    again = simulate_asset_delivery(registered(battery(), "b1"), plan, noise_std_w=50.0, seed=1)
    assert one == again != two
    assert min(one) < 0  # a battery feeds in: its readings may be negative


def test_energy_per_slot_rounds_half_up() -> None:
    assert energy_wh([1000, 1002, 1001, -2, -3]) == [250, 251, 250, 0, -1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"reduction_w": [0]}, "reduction_w"),
        ({"performance": -0.1}, "performance"),
        ({"noise_std_w": -1.0}, "noise_std_w"),
    ],
)
def test_metering_arguments_are_checked(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"baseline_w": BASELINE, "reduction_w": REDUCTION} | kwargs
    with pytest.raises(FlexibilityInputError) as caught:
        simulate_metering(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
