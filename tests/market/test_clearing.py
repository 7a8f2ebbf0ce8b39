"""The clearing engine: hand-built books with known answers, then properties over random books.

Grid of every hand-built case (tests/market/clearing_factories.py)::

    1 ── 10 ── 11, 12
    └─── 20 ── 21 ── 22
"""

import dataclasses
import random
from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.clearing import (
    ClearingInputError,
    ClearingOrder,
    ClearingResult,
    GridTopology,
    PricingRule,
    Reason,
    SlotGroup,
    clear,
)
from oracle.types import Direction, Side
from tests.market.clearing_factories import (
    GRID,
    NOW,
    T0,
    buy,
    run,
    sell,
    trade_rows,
)
from tests.market.clearing_reference import (
    AssetUse,
    is_at_or_below,
    reference_clear,
    replay_on_contract_rules,
    slot_keys,
)

BID = PricingRule.PAY_AS_BID
CLEAR = PricingRule.PAY_AS_CLEAR


def reasons(result: ClearingResult) -> dict[str, Reason]:
    return {order_id: e.reason for order_id, e in result.explanations.items()}


# --- matching ---------------------------------------------------------------------------------


def test_simple_match_pays_the_ask() -> None:
    result = run(buy("b", price=20_000), sell("s", price=12_000))

    assert trade_rows(result) == [("b", "s", 10_000, 12_000)]
    assert reasons(result) == {"b": Reason.FILLED, "s": Reason.FILLED}
    assert result.explanations["b"].filled_w == 10_000
    assert result.explanations["b"].remaining_w == 0
    assert result.groups == (SlotGroup(T0, 1, Direction.UP),)
    assert result.clearing_prices == {}


def test_partial_fill_says_why_not_more() -> None:
    result = run(buy("b", power_w=10_000), sell("s", power_w=4_000))

    assert trade_rows(result) == [("b", "s", 4_000, 10_000)]
    explanation = result.explanations["b"]
    assert explanation.reason is Reason.PARTIALLY_FILLED
    assert explanation.limited_by is Reason.VOLUME_EXHAUSTED
    assert (explanation.filled_w, explanation.remaining_w) == (4_000, 6_000)
    assert "4000 W now, 6000 W left open" in explanation.text


def test_even_a_one_watt_fill_is_a_partial_fill() -> None:
    result = run(buy("b"), sell("s", power_w=1))

    assert result.explanations["b"].reason is Reason.PARTIALLY_FILLED
    assert result.explanations["b"].filled_w == 1


def test_a_sell_left_with_a_little_by_one_buy_serves_the_next() -> None:
    result = run(
        buy("b1", price=30_000, power_w=2_000),
        buy("b2", price=20_000, power_w=1_000),
        sell("s1", price=10_000, power_w=1_000),
        sell("s2", price=11_000, power_w=1_500),
    )

    assert trade_rows(result) == [
        ("b1", "s1", 1_000, 10_000),
        ("b1", "s2", 1_000, 11_000),
        ("b2", "s2", 500, 11_000),
    ]


def test_partial_fill_limited_by_a_dearer_offer_names_its_price() -> None:
    result = run(
        buy("b", price=20_000),
        sell("cheap", price=10_000, power_w=4_000),
        sell("dear", price=25_000),
    )

    assert trade_rows(result) == [("b", "cheap", 4_000, 10_000)]
    explanation = result.explanations["b"]
    assert explanation.limited_by is Reason.PRICE_TOO_LOW
    assert explanation.reference_price_cents_per_mwh == 25_000
    assert reasons(result)["dear"] is Reason.PRICE_TOO_HIGH
    assert result.explanations["dear"].reference_price_cents_per_mwh == 20_000


def test_one_buy_takes_several_sells_cheapest_first() -> None:
    result = run(
        buy("b", power_w=9_000),
        sell("s3", price=13_000, power_w=5_000),
        sell("s1", price=11_000, power_w=3_000),
        sell("s2", price=12_000, power_w=3_000),
    )

    assert trade_rows(result) == [
        ("b", "s1", 3_000, 11_000),
        ("b", "s2", 3_000, 12_000),
        ("b", "s3", 3_000, 13_000),
    ]
    assert result.explanations["s3"].reason is Reason.PARTIALLY_FILLED


def test_all_or_nothing_buy_is_never_split_across_two_sells() -> None:
    result = run(
        buy("b", power_w=10_000, divisible=False),
        sell("s1", power_w=6_000),
        sell("s2", power_w=4_000),
    )

    assert result.trades == ()
    assert reasons(result) == {
        "b": Reason.ALL_OR_NOTHING_NOT_MET,
        "s1": Reason.ALL_OR_NOTHING_NOT_MET,
        "s2": Reason.ALL_OR_NOTHING_NOT_MET,
    }
    assert "it is all-or-nothing" in result.explanations["b"].text
    assert "counter-orders at a matching price are all-or-nothing" in (
        result.explanations["s1"].text
    )


def test_all_or_nothing_sell_is_never_split_across_two_buys() -> None:
    result = run(
        buy("b1", power_w=6_000),
        buy("b2", power_w=4_000),
        sell("s", power_w=10_000, divisible=False),
    )

    assert result.trades == ()
    assert reasons(result)["s"] is Reason.ALL_OR_NOTHING_NOT_MET
    assert reasons(result)["b1"] is Reason.ALL_OR_NOTHING_NOT_MET


def test_all_or_nothing_buy_takes_one_sell_big_enough_even_if_dearer() -> None:
    result = run(
        buy("b", power_w=10_000, divisible=False),
        sell("small", price=9_000, power_w=6_000),
        sell("big", price=15_000, power_w=12_000),
    )

    assert trade_rows(result) == [("b", "big", 10_000, 15_000)]
    assert reasons(result)["small"] is Reason.ALL_OR_NOTHING_NOT_MET


def test_all_or_nothing_buy_larger_than_every_offer_is_explained_without_a_walk() -> None:
    result = run(
        buy("big", power_w=50_000, divisible=False, price=30_000),
        buy("small", power_w=3_000, price=10_000),
        sell("s", power_w=20_000, price=10_000),
    )

    assert trade_rows(result) == [("small", "s", 3_000, 10_000)]
    assert reasons(result)["big"] is Reason.ALL_OR_NOTHING_NOT_MET
    assert result.explanations["s"].limited_by is Reason.ALL_OR_NOTHING_NOT_MET


def test_minimum_acceptance_of_the_buy() -> None:
    result = run(
        buy("b", power_w=10_000, min_power_w=5_000),
        sell("s1", power_w=3_000),
        sell("s2", power_w=3_000),
    )

    assert result.trades == ()
    assert reasons(result) == {
        "b": Reason.BELOW_MIN_ACCEPTANCE,
        "s1": Reason.BELOW_MIN_ACCEPTANCE,
        "s2": Reason.BELOW_MIN_ACCEPTANCE,
    }


def test_minimum_acceptance_of_the_sell_and_the_whole_remainder_exception() -> None:
    result = run(
        buy("b1", power_w=2_000, price=30_000),
        buy("b2", power_w=6_000, price=20_000),
        sell("s", power_w=6_000, min_power_w=5_000),
    )

    # b1's 2 kW would undercut the sell's 5 kW minimum; b2 takes the whole 6 kW.
    assert trade_rows(result) == [("b2", "s", 6_000, 10_000)]
    assert reasons(result)["b1"] is Reason.BELOW_MIN_ACCEPTANCE


def test_a_divisible_fill_below_minimum_is_fine_when_it_takes_the_whole_remainder() -> None:
    result = run(
        buy("b", power_w=10_000, min_power_w=8_000),
        sell("s", power_w=3_000),
        filled_w={"b": 7_000},  # 3 kW left: less than the minimum, but all that is left
    )

    assert trade_rows(result) == [("b", "s", 3_000, 10_000)]
    assert reasons(result)["b"] is Reason.FILLED


def test_a_sell_takes_a_fill_below_its_minimum_when_it_is_all_it_has_left() -> None:
    result = run(
        buy("b", power_w=2_000),
        sell("s", power_w=10_000, min_power_w=5_000),
        filled_w={"s": 8_000},
    )

    assert trade_rows(result) == [("b", "s", 2_000, 10_000)]


def test_a_walk_stops_at_the_first_ask_above_the_bid() -> None:
    result = run(
        buy("b", price=20_000, power_w=10_000),
        sell("fits", price=10_000, power_w=4_000),
        sell("one-cent-too-dear", price=20_001, power_w=6_000),
    )

    assert trade_rows(result) == [("b", "fits", 4_000, 10_000)]
    assert result.explanations["b"].reference_price_cents_per_mwh == 20_001


# --- location ---------------------------------------------------------------------------------


def test_sell_under_a_sibling_feeder_does_not_qualify() -> None:
    result = run(buy("b", node=10), sell("s", node=21))

    assert result.trades == ()
    assert reasons(result) == {"b": Reason.NO_QUALIFYING_OFFER, "s": Reason.NO_QUALIFYING_OFFER}
    assert "at or below node 10" in result.explanations["b"].text
    assert "at or above node 21" in result.explanations["s"].text


def test_sell_anywhere_below_the_buy_node_qualifies_and_above_does_not() -> None:
    result = run(
        buy("root", node=1, power_w=1_000, price=30_000),
        buy("feeder", node=20, power_w=1_000, price=20_000),
        sell("deep", node=22, power_w=1_000, price=10_000),
        sell("at-feeder", node=20, power_w=1_000, price=10_000),
        sell("at-root", node=1, power_w=1_000, price=5_000),
    )

    # The cheapest sell sits above feeder 20: only the root buy may take it.
    assert trade_rows(result) == [
        ("root", "at-root", 1_000, 5_000),
        ("feeder", "at-feeder", 1_000, 10_000),
    ]
    assert reasons(result)["deep"] is Reason.VOLUME_EXHAUSTED


def test_sell_at_the_buy_node_itself_qualifies() -> None:
    result = run(buy("b", node=21), sell("s", node=21))

    assert len(result.trades) == 1


# --- price --------------------------------------------------------------------------------------


def test_prices_that_do_not_cross_do_not_trade() -> None:
    result = run(buy("b", price=10_000), sell("s", price=10_001))

    assert result.trades == ()
    assert reasons(result) == {"b": Reason.PRICE_TOO_LOW, "s": Reason.PRICE_TOO_HIGH}
    assert result.explanations["b"].reference_price_cents_per_mwh == 10_001
    assert result.explanations["s"].reference_price_cents_per_mwh == 10_000
    assert "10001 c/MWh" in result.explanations["b"].text


def test_equal_prices_trade() -> None:
    assert trade_rows(run(buy("b", price=10_000), sell("s", price=10_000))) == [
        ("b", "s", 10_000, 10_000)
    ]


def test_an_ask_above_every_bid_is_too_high_even_once_the_bids_are_filled() -> None:
    result = run(buy("b", price=20_000), sell("cheap"), sell("dear", price=25_000))

    assert reasons(result)["dear"] is Reason.PRICE_TOO_HIGH
    assert result.explanations["dear"].reference_price_cents_per_mwh == 20_000


def test_an_ask_above_the_bids_still_open_names_the_best_open_bid() -> None:
    result = run(
        buy("high", price=30_000),
        buy("low", price=20_000),
        sell("cheap"),
        sell("dear", price=25_000, power_w=1_000, min_power_w=1_000),
    )

    assert trade_rows(result) == [("high", "cheap", 10_000, 10_000)]
    assert reasons(result)["dear"] is Reason.PRICE_TOO_HIGH
    assert result.explanations["dear"].reference_price_cents_per_mwh == 20_000


def test_an_ask_too_high_names_the_best_bid_of_all_the_nodes_above_it() -> None:
    result = run(
        buy("near", node=10, price=15_000),
        buy("far", node=1, price=18_000),
        sell("s", node=11, price=20_000),
    )

    assert reasons(result)["s"] is Reason.PRICE_TOO_HIGH
    assert result.explanations["s"].reference_price_cents_per_mwh == 18_000


def test_highest_bid_goes_first() -> None:
    result = run(
        buy("low", price=15_000),
        buy("high", price=25_000),
        sell("s", price=10_000),
    )

    assert trade_rows(result) == [("high", "s", 10_000, 10_000)]
    assert reasons(result)["low"] is Reason.VOLUME_EXHAUSTED


# --- tie-breaks ---------------------------------------------------------------------------------


def test_tie_breaks_by_order_id_on_both_sides_in_string_order() -> None:
    orders = [
        buy("b9", power_w=5_000),
        buy("b10", power_w=5_000),
        sell("s9", power_w=5_000),
        sell("s10", power_w=5_000),
        sell("s2", power_w=5_000, price=10_001),
    ]

    expected = [("b10", "s10", 5_000, 10_000), ("b9", "s9", 5_000, 10_000)]
    for _ in range(5):
        random.Random(len(orders)).shuffle(orders)
        assert trade_rows(run(*orders)) == expected


# --- groups -------------------------------------------------------------------------------------


def test_groups_are_independent_by_slot_count_direction_and_start() -> None:
    result = run(
        buy("b", slot_count=4),
        sell("other-count", slot_count=1),
        sell("other-direction", slot_count=4, direction=Direction.DOWN),
        sell("other-start", slot_count=4, slot_start=T0 + 900),
    )

    assert result.trades == ()
    assert len(result.groups) == 4
    assert set(reasons(result).values()) == {Reason.NO_QUALIFYING_OFFER}


# --- pricing ----------------------------------------------------------------------------------


def test_pay_as_clear_prices_a_node_at_its_marginal_accepted_ask() -> None:
    orders = [
        buy("b1", node=10, price=30_000, power_w=5_000),
        buy("b2", node=10, price=25_000, power_w=5_000),
        buy("c", node=20, price=40_000, power_w=5_000),
        sell("s1", node=11, price=10_000, power_w=5_000),
        sell("s2", node=12, price=15_000, power_w=5_000),
        sell("t", node=21, price=12_000, power_w=5_000),
    ]

    result = run(*orders, pricing=CLEAR)

    assert trade_rows(result) == [
        ("c", "t", 5_000, 12_000),
        ("b1", "s1", 5_000, 15_000),
        ("b2", "s2", 5_000, 15_000),
    ]
    group = SlotGroup(T0, 1, Direction.UP)
    assert result.clearing_prices == {(group, 10): 15_000, (group, 20): 12_000}
    # The same book pays each offer its own ask under pay-as-bid.
    assert [row[3] for row in trade_rows(run(*orders))] == [12_000, 10_000, 15_000]


def test_pay_as_clear_refuses_a_later_bid_below_the_node_price() -> None:
    orders = [
        buy("b1", price=30_000, power_w=10_000, divisible=False),
        buy("b2", price=20_000, power_w=4_000),
        sell("small", price=10_000, power_w=4_000),
        sell("big", price=25_000, power_w=10_000),
    ]

    # b1 (all-or-nothing) must skip the small cheap offer and take the big one at 25,000; b2's
    # bid of 20,000 covers the small offer's ask, but not a uniform price of 25,000.
    cleared = run(*orders, pricing=CLEAR)
    assert trade_rows(cleared) == [("b1", "big", 10_000, 25_000)]
    assert reasons(cleared)["b2"] is Reason.BELOW_CLEARING_PRICE
    assert cleared.explanations["b2"].reference_price_cents_per_mwh == 25_000
    assert reasons(cleared)["small"] is Reason.ALL_OR_NOTHING_NOT_MET  # b1 had to skip it
    assert "clearing price at node 10" in cleared.explanations["b2"].text

    by_bid = run(*orders)
    assert trade_rows(by_bid) == [("b1", "big", 10_000, 25_000), ("b2", "small", 4_000, 10_000)]


# --- explanations -------------------------------------------------------------------------------


def test_every_order_is_explained_including_expired_and_already_filled() -> None:
    orders = [
        buy("b", power_w=10_000),
        sell("expired", expiry=NOW),
        sell("done", power_w=2_000),
        sell("half", power_w=6_000),
        sell("lonely", node=21),
    ]

    result = run(*orders, filled_w={"done": 2_000, "half": 3_000})

    assert trade_rows(result) == [("b", "half", 3_000, 10_000)]
    assert reasons(result) == {
        "b": Reason.PARTIALLY_FILLED,
        "done": Reason.ALREADY_FILLED,
        "expired": Reason.EXPIRED,
        "half": Reason.FILLED,
        "lonely": Reason.NO_QUALIFYING_OFFER,
    }
    assert list(result.explanations) == sorted(o.order_id for o in orders)
    assert len(result.explanations) == len(orders)
    for explanation in result.explanations.values():
        assert explanation.text and explanation.reason.value in Reason._value2member_map_
    with pytest.raises(KeyError):
        result.explanations["nope"]


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (buy("b", node=99), "node_id"),
        (buy("b", slot_start=T0 + 1), "slot_start"),
        (buy("b", slot_count=0), "slot_count"),
        (buy("b", power_w=0), "power_w"),
        (buy("b", power_w=2**32), "power_w"),
        (buy("b", power_w=1_000, min_power_w=2_000), "min_power_w"),
        (buy("b", power_w=1_000, min_power_w=500, divisible=False), "min_power_w"),
        (buy("b", price=-1), "price_cents_per_mwh"),
        (buy("b", expiry=-1), "expiry"),
        (buy("", price=1), "order_id"),
    ],
)
def test_a_malformed_order_raises_naming_the_field(order: ClearingOrder, field: str) -> None:
    with pytest.raises(ClearingInputError) as raised:
        run(sell("fine"), order)

    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)
    assert field in str(raised.value)


def test_wrong_types_raise_naming_the_field() -> None:
    cases: dict[str, dict[str, Any]] = {
        "power_w": {"power_w": 1.5},
        "slot_start": {"slot_start": "0"},
        "side": {"side": 1},
        "direction": {"direction": 0},
        "divisible": {"divisible": 1, "min_power_w": 0},
    }
    for field, change in cases.items():
        order = _replace(buy("b"), **change)
        with pytest.raises(ClearingInputError) as raised:
            run(order)
        assert raised.value.field == field, change


def _replace(order: ClearingOrder, **change: Any) -> ClearingOrder:
    return dataclasses.replace(order, **change)


def test_an_unknown_pricing_rule_raises_and_a_known_string_is_accepted() -> None:
    with pytest.raises(ClearingInputError) as raised:
        clear([], GridTopology(GRID), "pay_as_you_like", now_s=NOW)  # type: ignore[arg-type]
    assert raised.value.field == "pricing"

    orders = [buy("b1", price=30_000, power_w=5_000), buy("b2", power_w=5_000), sell("s")]
    as_text = clear(orders, GridTopology(GRID), "pay_as_clear", now_s=NOW)  # type: ignore[arg-type]
    assert as_text == run(*orders, pricing=CLEAR)


def test_duplicate_order_ids_raise() -> None:
    with pytest.raises(ClearingInputError) as raised:
        run(buy("x"), sell("y"), sell("x"))

    assert (raised.value.field, raised.value.order_id) == ("order_id", "x")


def test_asset_node_must_match_for_a_sell_and_be_absent_for_a_buy() -> None:
    moved = _replace(sell("s", node=11), asset_node_id=12)
    with pytest.raises(ClearingInputError, match="asset_node_id"):
        run(moved)
    with pytest.raises(ClearingInputError, match="asset_node_id"):
        run(_replace(buy("b"), asset_node_id=10))


def test_bad_fills_raise_naming_the_order() -> None:
    cases = [
        ({"ghost": 1}, "filled_w['ghost']"),
        ({"b": 10_001}, "filled_w['b']"),
        ({"aon": 1}, "filled_w['aon']"),
    ]
    for filled, field in cases:
        with pytest.raises(ClearingInputError) as raised:
            run(buy("b"), sell("aon", divisible=False), filled_w=filled)
        assert raised.value.field == field


def test_bad_topologies_raise_naming_the_node() -> None:
    with pytest.raises(ClearingInputError, match=r"parent_of\[2\].*unknown parent"):
        GridTopology({1: None, 2: 7})
    with pytest.raises(ClearingInputError, match="loops back"):
        GridTopology({1: 2, 2: 1})
    with pytest.raises(ClearingInputError, match="node id"):
        GridTopology({0: None})
    chain = {node: (node - 1 if node > 1 else None) for node in range(1, 34)}
    with pytest.raises(ClearingInputError, match="deeper than 32"):
        GridTopology(chain)
    assert GridTopology({n: p for n, p in chain.items() if n <= 32}).ancestors(32)[-1] == 1


def test_topology_answers_at_or_below() -> None:
    grid = GridTopology(GRID)

    assert grid.ancestors(22) == (22, 21, 20, 1)
    assert grid.is_at_or_below(22, 20)
    assert grid.is_at_or_below(22, 22)
    assert not grid.is_at_or_below(20, 22)
    assert not grid.is_at_or_below(11, 20)
    assert 22 in grid and 99 not in grid and len(grid) == len(GRID)


BATTERY = "0x" + "b7" * 20


def test_several_offers_of_one_asset_never_trade_beyond_its_capacity() -> None:
    """Regression (issue 7): two 40 kW offers of one 50 kW battery traded 80 kW."""
    result = run(
        buy("b", power_w=100_000),
        sell("s1", power_w=40_000, price=10_000, asset=BATTERY, capacity_w=50_000),
        sell("s2", power_w=40_000, price=11_000, asset=BATTERY, capacity_w=50_000),
    )

    assert trade_rows(result) == [("b", "s1", 40_000, 10_000), ("b", "s2", 10_000, 11_000)]
    s2 = result.explanations["s2"]
    assert (s2.reason, s2.limited_by) == (Reason.PARTIALLY_FILLED, Reason.ASSET_CAPACITY)
    assert "prequalified capacity" in s2.text
    assert result.explanations["b"].limited_by is Reason.ASSET_CAPACITY


def test_capacity_spans_slot_groups_and_counts_earlier_fills() -> None:
    """A one-slot offer and an hour block of one asset share its power in the common slot;
    power filled before this clearing is taken first."""
    block = sell("block", slot_count=4, power_w=30_000, asset=BATTERY, capacity_w=50_000)
    single = sell("single", slot_start=T0 + 900, power_w=30_000, asset=BATTERY, capacity_w=50_000)
    other = sell("other", slot_start=T0 + 900, power_w=30_000, capacity_w=50_000)  # other asset
    result = run(
        buy("b-block", slot_count=4, power_w=30_000),
        buy("b-single", slot_start=T0 + 900, power_w=60_000),
        block,
        single,
        other,
        filled_w={"block": 5_000},
    )

    assert trade_rows(result) == [
        ("b-block", "block", 25_000, 10_000),
        ("b-single", "other", 30_000, 10_000),
        ("b-single", "single", 20_000, 10_000),
    ]
    assert result.explanations["single"].limited_by is Reason.ASSET_CAPACITY


def test_an_all_or_nothing_offer_cut_by_capacity_does_not_trade_and_says_why() -> None:
    result = run(
        buy("b", power_w=100_000),
        sell("s1", power_w=30_000, asset=BATTERY, capacity_w=50_000),
        sell("s2", power_w=30_000, divisible=False, price=11_000, asset=BATTERY, capacity_w=50_000),
    )

    assert trade_rows(result) == [("b", "s1", 30_000, 10_000)]
    assert result.explanations["s2"].reason is Reason.ASSET_CAPACITY


def test_capacity_of_a_buy_or_a_negative_one_raises() -> None:
    with pytest.raises(ClearingInputError, match="asset_capacity_w"):
        run(_replace(buy("b"), asset_capacity_w=1_000))
    with pytest.raises(ClearingInputError, match="asset_capacity_w"):
        run(sell("s", capacity_w=-1))


def test_an_empty_book_clears_to_nothing() -> None:
    result = run()

    assert (result.trades, dict(result.explanations), result.groups) == ((), {}, ())


# --- properties ---------------------------------------------------------------------------------

PROPERTY_GRID: dict[int, int | None] = {
    1: None, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3, 7: 4, 8: None, 9: 8,
}  # fmt: skip


@st.composite
def books(draw: st.DrawFn) -> tuple[list[ClearingOrder], dict[str, int]]:
    """Small books on few slots, prices and sizes, so that ties, skips and clashes are common."""
    count = draw(st.integers(0, 30))
    orders = [draw(_orders(f"o{number}")) for number in range(count)]
    filled: dict[str, int] = {}
    for order in orders:
        if draw(st.integers(0, 7)) == 0:
            filled[order.order_id] = (
                order.power_w if not order.divisible else draw(st.integers(0, order.power_w))
            )
    return orders, filled


_GROUPS = [(T0, 1, Direction.UP)] * 5 + [
    (T0, 4, Direction.UP),
    (T0 + 900, 1, Direction.UP),
    (T0, 1, Direction.DOWN),
]  # most orders share one group, so that they meet


@st.composite
def _orders(draw: st.DrawFn, order_id: str) -> ClearingOrder:
    divisible = draw(st.booleans())
    power_w = draw(st.sampled_from([1_000, 1_500, 2_000, 3_000, 5_000, 8_000]))
    if draw(st.booleans()):
        return buy(order_id, **_common(draw, divisible, power_w))
    asset, capacity_w = draw(st.sampled_from(_ASSETS))
    return sell(order_id, **_common(draw, divisible, power_w), asset=asset, capacity_w=capacity_w)


_ASSETS = [("0x" + "a1" * 20, 4_000), ("0x" + "a2" * 20, 9_000), ("0x" + "a3" * 20, None)]


def _common(draw: st.DrawFn, divisible: bool, power_w: int) -> dict[str, Any]:
    slot_start, slot_count, direction = draw(st.sampled_from(_GROUPS))
    return dict(
        node=draw(st.sampled_from(sorted(PROPERTY_GRID))),
        price=draw(st.sampled_from([10_000, 12_000, 12_001, 15_000, 20_000])),
        power_w=power_w,
        min_power_w=min(power_w, draw(st.sampled_from([0, 0, 1_000, 2_500])))
        if divisible
        else power_w,
        divisible=divisible,
        slot_start=slot_start,
        slot_count=slot_count,
        direction=direction,
        expiry=draw(st.sampled_from([NOW, T0, T0, T0, T0])),
    )


def _clear(
    orders: list[ClearingOrder], filled: dict[str, int], pricing: PricingRule
) -> ClearingResult:
    return clear(orders, GridTopology(PROPERTY_GRID), pricing, now_s=NOW, filled_w=filled)


@settings(max_examples=150, deadline=None)
@given(book=books(), pricing=st.sampled_from(list(PricingRule)))
def test_no_trade_breaks_a_contract_rule(
    book: tuple[list[ClearingOrder], dict[str, int]], pricing: PricingRule
) -> None:
    orders, filled = book
    result = _clear(orders, filled, pricing)

    trades = trade_rows(result)
    assert replay_on_contract_rules(orders, trades, PROPERTY_GRID, filled, NOW) is None
    by_id = {o.order_id: o for o in orders}
    traded: Counter[str] = Counter()
    for buy_id, sell_id, power_w, _ in trades:
        traded[buy_id] += power_w
        traded[sell_id] += power_w
        assert is_at_or_below(by_id[sell_id].node_id, by_id[buy_id].node_id, PROPERTY_GRID)
    for order in orders:
        total = traded[order.order_id] + filled.get(order.order_id, 0)
        assert total <= order.power_w
        if not order.divisible:
            assert total in (0, order.power_w)  # all-or-nothing is never partly filled
            assert sum(order.order_id in row[:2] for row in trades) <= 1


@settings(max_examples=150, deadline=None)
@given(book=books())
def test_pay_as_clear_has_one_price_per_node_and_group_inside_every_pair(
    book: tuple[list[ClearingOrder], dict[str, int]],
) -> None:
    orders, filled = book
    result = _clear(orders, filled, CLEAR)

    by_id = {o.order_id: o for o in orders}
    prices: defaultdict[tuple[SlotGroup, int], set[int]] = defaultdict(set)
    for trade in result.trades:
        b, s = by_id[trade.buy_id], by_id[trade.sell_id]
        key = (SlotGroup(b.slot_start, b.slot_count, b.direction), b.node_id)
        prices[key].add(trade.price_cents_per_mwh)
        assert s.price_cents_per_mwh <= trade.price_cents_per_mwh <= b.price_cents_per_mwh
        assert trade.price_cents_per_mwh == result.clearing_prices[key]
    assert all(len(seen) == 1 for seen in prices.values())
    assert set(prices) == set(result.clearing_prices)


@settings(max_examples=100, deadline=None)
@given(book=books())
def test_pay_as_bid_pays_each_offer_its_own_ask_within_the_bid(
    book: tuple[list[ClearingOrder], dict[str, int]],
) -> None:
    orders, filled = book
    result = _clear(orders, filled, BID)

    by_id = {o.order_id: o for o in orders}
    for trade in result.trades:
        ask = by_id[trade.sell_id].price_cents_per_mwh
        assert trade.price_cents_per_mwh == ask <= by_id[trade.buy_id].price_cents_per_mwh
    assert result.clearing_prices == {}


@settings(max_examples=100, deadline=None)
@given(
    book=books(),
    pricing=st.sampled_from(list(PricingRule)),
    seed=st.integers(0, 2**32 - 1),
)
def test_clearing_is_deterministic_under_shuffling(
    book: tuple[list[ClearingOrder], dict[str, int]], pricing: PricingRule, seed: int
) -> None:
    orders, filled = book
    shuffled = list(orders)
    random.Random(seed).shuffle(shuffled)

    first, second = _clear(orders, filled, pricing), _clear(shuffled, filled, pricing)

    assert first.trades == second.trades
    assert first.clearing_prices == second.clearing_prices
    assert first.groups == second.groups
    assert list(first.explanations.items()) == list(second.explanations.items())


@settings(max_examples=150, deadline=None)
@given(book=books(), pricing=st.sampled_from(list(PricingRule)))
def test_engine_agrees_with_the_slow_reference(
    book: tuple[list[ClearingOrder], dict[str, int]], pricing: PricingRule
) -> None:
    orders, filled = book

    expected = reference_clear(orders, PROPERTY_GRID, pricing, NOW, filled)

    assert trade_rows(_clear(orders, filled, pricing)) == expected


@settings(max_examples=150, deadline=None)
@given(book=books(), pricing=st.sampled_from(list(PricingRule)))
def test_no_asset_trades_beyond_its_capacity_in_any_slot_and_direction(
    book: tuple[list[ClearingOrder], dict[str, int]], pricing: PricingRule
) -> None:
    """Per (asset, direction, slot): what was filled before plus what trades now stays within
    the capacity (or, where earlier fills already passed it, nothing more trades)."""
    orders, filled = book
    result = _clear(orders, filled, pricing)

    before = AssetUse(orders, filled)
    by_id = {o.order_id: o for o in orders}
    traded: Counter[tuple[str, int, int]] = Counter()
    for trade in result.trades:
        for key in slot_keys(by_id[trade.sell_id]):
            traded[key] += trade.power_w
    for key, power_w in traded.items():
        capacity = before.capacity.get(key[:2])
        if capacity is not None:
            assert before.used.get(key, 0) + power_w <= max(capacity, before.used.get(key, 0))
            assert power_w == 0 or before.used.get(key, 0) + power_w <= capacity


@settings(max_examples=100, deadline=None)
@given(book=books(), pricing=st.sampled_from(list(PricingRule)))
def test_explanations_agree_with_the_trades(
    book: tuple[list[ClearingOrder], dict[str, int]], pricing: PricingRule
) -> None:
    orders, filled = book
    result = _clear(orders, filled, pricing)

    traded: Counter[str] = Counter()
    for trade in result.trades:
        traded[trade.buy_id] += trade.power_w
        traded[trade.sell_id] += trade.power_w
    assert sorted(result.explanations) == sorted(o.order_id for o in orders)
    for order in orders:
        e = result.explanations[order.order_id]
        before = order.power_w - filled.get(order.order_id, 0)
        assert (e.order_id, e.side, e.filled_w) == (order.order_id, order.side, traded[e.order_id])
        assert e.remaining_w == before - e.filled_w
        assert (e.reason is Reason.FILLED) == (e.filled_w > 0 and e.remaining_w == 0)
        assert (e.reason is Reason.PARTIALLY_FILLED) == (e.filled_w > 0 and e.remaining_w > 0)
        assert (e.limited_by is not None) == (e.reason is Reason.PARTIALLY_FILLED)
        assert e.text
        _check_reference_price(order, e.limited_by or e.reason, e.reference_price_cents_per_mwh)


def _check_reference_price(order: ClearingOrder, reason: Reason, ref: int | None) -> None:
    """A price reason points at a price on the far side of the order's own."""
    own = order.price_cents_per_mwh
    if reason is Reason.PRICE_TOO_LOW:
        assert order.side is Side.BUY and ref is not None and ref > own
    elif reason is Reason.PRICE_TOO_HIGH:
        assert order.side is Side.SELL and ref is not None and ref < own
    elif reason is Reason.BELOW_CLEARING_PRICE:
        assert order.side is Side.BUY and ref is not None and ref > own
    else:
        assert ref is None
