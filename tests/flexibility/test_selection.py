"""Unit selection for a sold bid (UC 3.3): cheapest first, reserve, all-or-nothing, errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexibility import (
    FlexibilityInputError,
    InfeasibleError,
    SoldBid,
    generate_fleet,
    select_units,
)
from flexibility.portfolio import GeoPoint
from oracle.types import Direction
from tests.flexibility.factories import DAY, DAY_START_S, battery, ev, registered

UP = Direction.UP
CHEAP = registered(battery(degradation_eur_per_mwh=30.0), "cheap")
DEAR = registered(battery(degradation_eur_per_mwh=60.0), "dear")


def bid(power_w: int, first_slot: int = 68, slot_count: int = 4) -> SoldBid:
    """A sold up bid at node 5, from 17:00 for an hour unless told."""
    return SoldBid(
        node_id=5,
        direction=UP,
        slot_start=DAY_START_S + 900 * first_slot,
        slot_count=slot_count,
        power_w=power_w,
    )


def test_the_cheapest_unit_goes_first_and_the_reserve_is_planned() -> None:
    # each battery holds 3600 W for an hour (4000 Wh usable at 0.9 per Wh)
    selection = select_units(bid(3000), [DEAR, CHEAP], day_start_s=DAY_START_S)

    assert [(u.asset_id, u.power_w) for u in selection.units] == [("cheap", 3300)]
    assert (selection.planned_w, selection.reserve_w) == (3300, 300)


def test_the_next_unit_covers_what_the_cheapest_cannot() -> None:
    selection = select_units(bid(6000), [DEAR, CHEAP], day_start_s=DAY_START_S, reserve_pct=0.0)

    assert [(u.asset_id, u.power_w) for u in selection.units] == [("cheap", 3600), ("dear", 2400)]
    assert selection.activation("dear") == dict.fromkeys(range(68, 72), 2400)
    assert selection.activation("nobody") == {}


def test_a_bid_the_assets_cannot_reach_is_refused() -> None:
    with pytest.raises(InfeasibleError, match=r"7200 W over slots 68\.\.71, 800 W short") as e:
        select_units(bid(8000), [DEAR, CHEAP], day_start_s=DAY_START_S)
    assert e.value.field == "power_w"


def test_committed_activations_are_respected() -> None:
    # the battery can put out 3600 Wh in all (4000 Wh at 0.9); an earlier trade took 2001 W
    # for an hour, so 1599 Wh over 2 h leave 799.5 W; without it 1800 W
    earlier = {"cheap": dict.fromkeys(range(60, 64), 2001)}
    two_hours = {"slot_count": 8, "power_w": 850}
    fresh = select_units(bid(**two_hours), [CHEAP], day_start_s=DAY_START_S, reserve_pct=0.0)
    assert fresh.planned_w == 850
    with pytest.raises(InfeasibleError, match=r"799 W over slots 68\.\.75"):
        select_units(
            bid(**two_hours), [CHEAP], day_start_s=DAY_START_S, reserve_pct=0.0, committed=earlier
        )


def test_an_all_or_nothing_unit_is_taken_whole() -> None:
    car = registered(ev(), "car")  # 11 kW from 18:00 at 30 EUR/MWh; the battery asks 55.6
    selection = select_units(
        bid(2000, first_slot=72, slot_count=2), [CHEAP, car], day_start_s=DAY_START_S
    )
    assert [(u.asset_id, u.power_w) for u in selection.units] == [("car", 11000)]


@pytest.mark.parametrize(
    ("sold", "field"),
    [
        (bid(1000, first_slot=94, slot_count=4), "slot_start"),
        (SoldBid(5, UP, DAY_START_S + 1, 1, 1000), "slot_start"),
        (bid(0), "power_w"),
    ],
)
def test_bad_bids_name_the_field(sold: SoldBid, field: str) -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        select_units(sold, [CHEAP], day_start_s=DAY_START_S)
    assert caught.value.field == field


FLEET = generate_fleet(8, seed=11, area=[GeoPoint(52.5, 13.4)], day=DAY)


@settings(max_examples=30, deadline=None)
@given(
    power_w=st.integers(500, 40_000),
    first=st.integers(56, 84),
    count=st.integers(1, 8),
    direction=st.sampled_from(Direction),
)
def test_a_selection_meets_the_bid_and_every_unit_can_follow_it(
    power_w: int, first: int, count: int, direction: Direction
) -> None:
    sold = SoldBid(1, direction, DAY_START_S + 900 * first, count, power_w)
    try:
        selection = select_units(sold, FLEET, day_start_s=DAY_START_S)
    except InfeasibleError:
        total = sum(a.model.max_block_w(direction, first, count) for a in FLEET)
        assert total < power_w
        return
    assert selection.planned_w >= power_w
    models = {a.asset_id: a.model for a in FLEET}
    for unit in selection.units:
        models[unit.asset_id].dispatch_w(selection.activation(unit.asset_id))
