"""Offers from asset flexibility: blocks, prices, divisibility, pooling per node."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexibility import (
    FlexibilityInputError,
    GeoPoint,
    OfferRules,
    asset_offers,
    generate_fleet,
    node_offers,
)
from flexibility.limits import block, combined
from flexibility.offers import block_powers
from oracle.types import Direction
from tests.flexibility.factories import DAY, DAY_START_S, battery, ev, heat_pump, registered

UP = Direction.UP
EVENING = OfferRules(block_slots=4, first_slot=64, slot_count=16, margin_pct=20.0)


def test_battery_offers_hourly_blocks_that_hold_together() -> None:
    asset = registered(battery(capacity_kwh=20.0, efficiency=1.0))  # 8000 Wh usable

    offers = asset_offers(asset, node_id=11, day_start_s=DAY_START_S, direction=UP, rules=EVENING)

    # the first hour at the 5 kW limit, the 3000 Wh left in the second, then nothing
    assert [o.power_w for o in offers] == [5000, 3000]
    assert [o.slot_start for o in offers] == [DAY_START_S + 900 * s for s in (64, 68)]
    everything: dict[int, int] = {}
    for o in offers:
        first = (o.slot_start - DAY_START_S) // 900
        everything = combined(everything, block(UP, first, o.slot_count, o.power_w))
    asset.model.dispatch_w(everything)  # all offers accepted together stay feasible


def test_offer_fields_follow_the_rules() -> None:
    (first, *_) = asset_offers(registered(battery()), 11, DAY_START_S, UP, EVENING)
    assert (first.node_id, first.direction, first.slot_count) == (11, UP, 4)
    assert first.power_w == 3600  # 4000 Wh usable at 0.9 per Wh in an hour
    assert first.price_cents_per_mwh == 6668  # 45 / 0.81 EUR/MWh = 5556 cents, + 20 %
    assert (first.divisible, first.min_power_w) == (True, 1000)
    assert first.members == ("a-1",)


def test_ev_offers_are_all_or_nothing() -> None:
    offers = asset_offers(
        registered(ev()), 11, DAY_START_S, UP, OfferRules(first_slot=72, slot_count=8)
    )
    # the first hour stops the charge; the car then charges in the second, so the baseline
    # there is zero and nothing more can be given up
    assert [(o.power_w, o.divisible, o.min_power_w) for o in offers] == [(11000, False, 11000)]


def test_small_blocks_are_not_offered() -> None:
    big = registered(battery(capacity_kwh=20.0, efficiency=1.0))
    rules = OfferRules(first_slot=64, slot_count=16, min_offer_w=4500)
    assert [o.power_w for o in asset_offers(big, 1, DAY_START_S, UP, rules)] == [5000]


def test_node_offers_pool_divisible_assets_and_keep_evs_apart() -> None:
    assets = [
        registered(battery(), "b"),
        registered(heat_pump(), "h"),
        registered(ev(), "e"),
        registered(battery(degradation_eur_per_mwh=90.0), "far"),
    ]
    node_of = {"b": 5, "h": 5, "e": 5, "far": 6}

    offers = node_offers(assets, node_of, DAY_START_S, UP, EVENING)

    pool = [o for o in offers if o.asset_id == "node-5-pool"]
    expected = [
        block_powers(assets[0], UP, EVENING)[s] + block_powers(assets[1], UP, EVENING)[s]
        for s in (64, 68, 72, 76)
    ]
    assert [o.power_w for o in pool] == [w for w in expected if w >= 1000]
    assert {o.members for o in pool} == {("b", "h")}
    assert {o.price_cents_per_mwh for o in pool} == {max(6668, 7200)}  # the dearer: 60 * 1.2
    assert {o.asset_id for o in offers} == {"node-5-pool", "e", "node-6-pool"}
    assert all(not o.divisible for o in offers if o.asset_id == "e")


def test_an_asset_without_a_node_is_named() -> None:
    with pytest.raises(FlexibilityInputError, match="'b' has no grid node") as caught:
        node_offers([registered(battery(), "b")], {}, DAY_START_S, UP)
    assert caught.value.field == "node_of"


@pytest.mark.parametrize(
    ("day_start_s", "rules", "field"),
    [
        (DAY_START_S + 1, OfferRules(), "day_start_s"),
        (DAY_START_S, OfferRules(first_slot=90, slot_count=10), "slots"),
        (DAY_START_S, OfferRules(block_slots=0), "block_slots"),
        (DAY_START_S, OfferRules(margin_pct=-1.0), "margin_pct"),
    ],
)
def test_offer_rules_are_checked(day_start_s: int, rules: OfferRules, field: str) -> None:
    with pytest.raises(FlexibilityInputError) as caught:
        asset_offers(registered(battery()), 1, day_start_s, UP, rules)
    assert caught.value.field == field


FLEET = generate_fleet(6, seed=21, area=[GeoPoint(52.5, 13.4)], day=DAY)


@settings(max_examples=40, deadline=None)
@given(
    index=st.integers(0, len(FLEET) - 1),
    direction=st.sampled_from(Direction),
    accepted=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_any_subset_of_an_assets_offers_is_deliverable_together(
    index: int, direction: Direction, accepted: list[bool]
) -> None:
    asset = FLEET[index]
    rules = OfferRules(block_slots=4, first_slot=60, slot_count=24, min_offer_w=100)
    offers = asset_offers(asset, 1, DAY_START_S, direction, rules)
    activation: dict[int, int] = {}
    for offer, taken in zip(offers, accepted, strict=False):
        if taken:
            first = (offer.slot_start - DAY_START_S) // 900
            activation = combined(
                activation, block(direction, first, offer.slot_count, offer.power_w)
            )
    asset.model.dispatch_w(activation)
