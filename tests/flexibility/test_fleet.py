"""The seeded fleet and its synthetic history."""

import math
from datetime import date, timedelta
from statistics import mean

import pytest

from flexibility import (
    BoundingBox,
    EVCharger,
    FlexibilityInputError,
    GeoPoint,
    HeatPump,
    HomeBattery,
    ean_check_digit,
    generate_fleet,
    history,
)
from tests.flexibility.factories import DAY, ev, registered

BUSES = [GeoPoint(52.50, 13.40), GeoPoint(52.52, 13.45)]


def test_the_same_seed_gives_the_same_fleet_and_another_seed_another() -> None:
    first = generate_fleet(15, seed=4, area=BUSES, day=DAY)
    assert generate_fleet(15, seed=4, area=BUSES, day=DAY) == first
    assert generate_fleet(15, seed=5, area=BUSES, day=DAY) != first


def test_every_home_has_assets_of_the_three_kinds() -> None:
    fleet = generate_fleet(30, seed=1, area=BUSES, day=DAY)
    homes = {a.home_id for a in fleet}
    kinds = {type(a.model) for a in fleet}
    assert len(homes) == 30
    assert kinds == {HomeBattery, EVCharger, HeatPump}
    assert len({a.asset_id for a in fleet}) == len(fleet)


def test_meter_points_are_unique_eans_starting_871() -> None:
    fleet = generate_fleet(30, seed=1, area=BUSES, day=DAY)
    eans = [a.meter_point_id for a in fleet]
    assert len(set(eans)) == len(eans)
    for ean in eans:
        assert len(ean) == 18 and ean.isdigit() and ean.startswith("871")
        assert int(ean[-1]) == ean_check_digit(ean[:-1])


def test_check_digit_matches_a_published_ean() -> None:
    assert ean_check_digit("400638133393") == 1  # EAN-13 4006381333931


def test_homes_sit_within_the_radius_of_a_bus() -> None:
    fleet = generate_fleet(40, seed=2, area=BUSES, day=DAY, radius_m=150.0)
    for asset in fleet:
        nearest_m = min(_distance_m(asset.location, bus) for bus in BUSES)
        assert nearest_m <= 150.0 + 1e-6


def test_homes_sit_inside_a_bounding_box() -> None:
    box = BoundingBox(south=52.0, west=13.0, north=52.1, east=13.2)
    for asset in generate_fleet(20, seed=2, area=box, day=DAY):
        assert box.south <= asset.location.lat <= box.north
        assert box.west <= asset.location.lon <= box.east


def test_fleet_arguments_are_checked() -> None:
    with pytest.raises(FlexibilityInputError) as no_homes:
        generate_fleet(0, seed=1, area=BUSES, day=DAY)
    with pytest.raises(FlexibilityInputError) as no_area:
        generate_fleet(3, seed=1, area=[], day=DAY)
    assert (no_homes.value.field, no_area.value.field) == ("homes", "area")


def _distance_m(a: GeoPoint, b: GeoPoint) -> float:
    d_lat = (a.lat - b.lat) * 111_320.0
    d_lon = (a.lon - b.lon) * 111_320.0 * math.cos(math.radians(b.lat))
    return math.hypot(d_lat, d_lon)


# --- history -----------------------------------------------------------------------------------


def test_history_is_deterministic_and_overlapping_histories_agree() -> None:
    asset = generate_fleet(5, seed=3, area=BUSES, day=DAY)[0]
    long = history(asset, date(2026, 10, 1), 20, seed=9)
    assert history(asset, date(2026, 10, 1), 20, seed=9) == long
    short = history(asset, date(2026, 10, 11), 5, seed=9)
    assert short.items() <= long.items()
    assert history(asset, date(2026, 10, 1), 20, seed=10) != long


def test_history_covers_every_local_slot_including_the_dst_day() -> None:
    asset = registered(ev())
    metered = history(asset, date(2026, 10, 24), 3, seed=1)  # Sun 25 Oct has 25 hours
    assert len(metered) == 96 + 100 + 96
    assert all(wh >= 0 for wh in metered.values())  # a charger never feeds in


def test_ev_history_charges_in_weekday_evenings_and_at_weekend_middays() -> None:
    asset = registered(ev())
    metered = history(asset, date(2026, 9, 7), 28, seed=2)  # four weeks from a Monday
    evening, midday = _share_by_weekday(metered, 64, 96), _share_by_weekday(metered, 40, 64)
    assert evening["weekday"] > 0.95 and evening["weekend"] < 0.05
    assert midday["weekend"] > 0.95


def _share_by_weekday(metered: dict[int, int], first: int, end: int) -> dict[str, float]:
    """Share of each day type's energy falling in slots ``first..end`` (UTC+2 in September)."""
    inside: dict[str, list[int]] = {"weekday": [], "weekend": []}
    total: dict[str, list[int]] = {"weekday": [], "weekend": []}
    for slot, wh in metered.items():
        local = slot + 7_200
        kind = "weekend" if (local // 86_400 + 3) % 7 >= 5 else "weekday"  # 1970-01-01: Thu
        total[kind].append(wh)
        if first <= local % 86_400 // 900 < end:
            inside[kind].append(wh)
    return {kind: sum(inside[kind]) / max(1, sum(total[kind])) for kind in inside}


def test_heat_pump_history_follows_the_cold() -> None:
    pump = next(
        a for a in generate_fleet(10, seed=3, area=BUSES, day=DAY) if isinstance(a.model, HeatPump)
    )
    cold = history(pump, DAY, 14, seed=1, outdoor_mean_c=0.0)
    mild = history(pump, DAY, 14, seed=1, outdoor_mean_c=8.0)
    assert mean(cold.values()) > mean(mild.values()) * 1.3


def test_history_arguments_are_checked() -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        history(registered(ev()), DAY - timedelta(days=1), 0, seed=1)
    assert caught.value.field == "days"
