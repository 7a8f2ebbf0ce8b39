"""Signed orders through the REST API: what is checked, the commitment on chain, batches,
cancellation, who reads what, the public order book, and the markets' gates."""

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from market import orders as orders_module
from market import outbox_rows
from market.client import FlexledgerClient
from market.db.models import MarketOrder
from market.orders import commit_key
from oracle.eip712 import ZERO_ADDRESS, order_digest
from oracle.outbox.models import MessageStatus
from oracle.types import SLOT_SECONDS, Address, ChainId, Direction, Side
from tests.market.api.market_cast import (
    FEEDER_A,
    HOUSE_A,
    HOUSE_B,
    OTHER_HOUSE,
    ROOT,
    MarketCast,
    buy,
    close_gate,
    counts,
    error_field,
    fresh_slot,
    place,
    placed,
    sell,
    shared_cast,
    signed,
)


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> MarketCast:
    return shared_cast(Path(tmp_path_factory.getbasetemp()) / "market")


def refused(
    cast: MarketCast, response: Any, status: int, field: str, before: tuple[int, ...]
) -> None:
    """The request was refused with ``status`` naming ``field``, and nothing was stored."""
    assert response.status_code == status, response.text
    assert error_field(response) == field, response.json()
    assert counts(cast.world) == before


# -- the markets -------------------------------------------------------------------------------


def test_markets_show_their_gate_rules_and_a_slots_gate(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    markets = {m["name"]: m for m in cast.get(None, "/markets", slot_start=slot).json()}
    assert markets["intraday"]["lead_s"] == 3600
    assert markets["intraday"]["gate"]["gate_closure"] == slot - 3600
    assert markets["intraday"]["gate"]["open"] is True
    assert markets["day-ahead"]["gate_time"] == "12:00"
    assert markets["day-ahead"]["gate"]["gate_closure"] < slot


# -- placing one order -------------------------------------------------------------------------


def test_a_signed_sell_is_stored_and_committed_on_chain(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    response = place(cast, cast.alpha, order)
    assert response.status_code == 201, response.text
    body = response.json()
    digest = order_digest(
        order, ChainId(cast.world.platform.chain_id), Address(cast.market_address)
    )
    assert body["order_hash"] == "0x" + digest.hex()
    assert body["status"] == "open" and body["filled_kw"] == 0
    assert body["gate_closure"] == order.slot_start - 3600
    cast.world.settle()
    message = cast.world.platform.oracle.status_of(commit_key(body["order_hash"]))
    assert message.status == MessageStatus.CONFIRMED
    assert message.sender == cast.world.platform.oracle_address
    commitment = cast.world.platform.oracle.commitment_of(commit_key(body["order_hash"]))
    suite = cast.world.platform.oracle.suite
    assert suite.read("FlexMarket", "batchCommittedAt", commitment.root) > 0


def test_a_dso_buys_in_its_licence_area_below_its_own_nodes(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    assert place(cast, cast.dso, buy(cast.dso, FEEDER_A, slot, 30_000, 20_000)).status_code == 201
    assert place(cast, cast.dso, buy(cast.dso, HOUSE_B, slot, 5_000, 20_000)).status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slot_start": 60}, "order.slot_start"),  # not on a slot boundary
        ({"min_power_w": 0}, "order.min_power_w"),
        ({"min_power_w": 30_000}, "order.min_power_w"),
        ({"divisible": False, "min_power_w": 5_000}, "order.min_power_w"),
        ({"expiry": -SLOT_SECONDS}, "order.expiry"),  # before the slot starts
        ({"power_w": 60_000, "min_power_w": 1_000}, "order.power_w"),  # battery: 50 kW up
        ({"direction": Direction.DOWN, "power_w": 25_000}, "order.power_w"),  # 20 kW down
        ({"node_id": HOUSE_B}, "order.node_id"),  # the battery sits at house A
    ],
)
def test_invalid_orders_are_422_naming_the_field_and_store_nothing(
    cast: MarketCast, changes: dict[str, Any], field: str
) -> None:
    """``slot_start`` and ``expiry`` changes are offsets from a valid slot start."""
    slot = fresh_slot(cast.world)
    relative = {k: slot + v for k, v in changes.items() if k in ("slot_start", "expiry")}
    order = sell(cast, cast.alpha, "battery", slot, 20_000, 12_000, **{**changes, **relative})
    before = counts(cast.world)
    refused(cast, place(cast, cast.alpha, order), 422, field, before)


def test_schema_errors_name_the_field(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    body: dict[str, Any] = {"market": "intraday", **signed(cast, cast.alpha, order)}
    before = counts(cast.world)
    for path, value, field in (
        (("order", "slot_count"), 97, "order.slot_count"),
        (("order", "price_cents_per_mwh"), 0, "order.price_cents_per_mwh"),
        (("order", "power_w"), "20000", "order.power_w"),
        (("order", "surprise"), 1, "order.surprise"),
        (("signature",), "0x1234", "signature"),
    ):
        bad = {**body, "order": {**body["order"]}}
        target = bad["order"] if path[0] == "order" else bad
        target[path[-1]] = value
        refused(cast, cast.post(cast.alpha, "/orders", bad), 422, field, before)


def test_a_signature_by_another_wallet_is_403_naming_signature(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    before = counts(cast.world)
    response = place(cast, cast.alpha, order, signer=cast.beta)
    refused(cast, response, 403, "signature", before)


def test_a_malformed_signature_is_422_naming_signature(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    body = {"market": "intraday", **signed(cast, cast.alpha, order)}
    body["signature"] = body["signature"][:-2] + "00"  # v = 0
    before = counts(cast.world)
    refused(cast, cast.post(cast.alpha, "/orders", body), 422, "signature", before)


def test_the_maker_must_be_the_signed_in_wallet(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    before = counts(cast.world)
    refused(cast, place(cast, cast.beta, order, signer=cast.alpha), 403, "order.maker", before)


def test_offering_another_fsps_asset_is_403(cast: MarketCast) -> None:
    order = sell(cast, cast.beta, "battery", fresh_slot(cast.world), 20_000, 12_000)
    before = counts(cast.world)
    refused(cast, place(cast, cast.beta, order), 403, "order.asset", before)


def test_an_unmapped_asset_cannot_be_offered_yet(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "pv", fresh_slot(cast.world), 5_000, 12_000)
    before = counts(cast.world)
    refused(cast, place(cast, cast.alpha, order), 409, "order.asset", before)


def test_buying_outside_the_licence_area_is_403(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    before = counts(cast.world)
    outside = buy(cast.other_dso, HOUSE_A, slot, 5_000, 20_000)
    refused(cast, place(cast, cast.other_dso, outside), 403, "order.node_id", before)
    inside = buy(cast.other_dso, OTHER_HOUSE, slot, 5_000, 20_000)
    assert place(cast, cast.other_dso, inside).status_code == 201


def test_sides_need_their_roles(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    before = counts(cast.world)
    fsp_buy = buy(cast.alpha, HOUSE_A, slot, 5_000, 20_000)
    refused(cast, place(cast, cast.alpha, fsp_buy), 403, "order.side", before)
    auditor_buy = buy(cast.auditor, ROOT, slot, 5_000, 20_000)
    refused(cast, place(cast, cast.auditor, auditor_buy), 403, "authorization", before)


def test_a_buy_names_no_asset_and_an_unknown_node_is_404(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    before = counts(cast.world)
    with_asset = buy(cast.dso, ROOT, slot, 5_000, 20_000, asset=Address(cast.assets["battery"]))
    refused(cast, place(cast, cast.dso, with_asset), 422, "order.asset", before)
    nowhere = buy(cast.dso, 77_777, slot, 5_000, 20_000)
    refused(cast, place(cast, cast.dso, nowhere), 404, "order.node_id", before)


def test_a_nonce_is_used_once(cast: MarketCast) -> None:
    first = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    placed(cast, cast.alpha, first)
    before = counts(cast.world)
    again = dataclasses.replace(first, price_cents_per_mwh=13_000)
    refused(cast, place(cast, cast.alpha, again), 409, "order.nonce", before)


def test_an_unknown_market_is_404(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    before = counts(cast.world)
    refused(cast, place(cast, cast.alpha, order, market="weekly"), 404, "market", before)


def test_anonymous_cannot_place(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 20_000, 12_000)
    body = {"market": "intraday", **signed(cast, cast.alpha, order)}
    assert cast.post(None, "/orders", body).status_code == 401


# -- gate closure and cancellation --------------------------------------------------------------


def test_orders_and_cancels_are_refused_once_the_gate_closed(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    early = placed(cast, cast.alpha, sell(cast, cast.alpha, "ev", slot, 10_000, 9_000))
    close_gate(cast.world, slot)
    before = counts(cast.world)
    late = sell(cast, cast.alpha, "ev", slot, 10_000, 9_000)
    response = place(cast, cast.alpha, late)
    refused(cast, response, 409, "order.slot_start", before)
    assert "gate closed at" in response.json()["detail"][0]["msg"]
    refused(cast, cast.delete(cast.alpha, f"/orders/{early}"), 409, "order_hash", before)


def test_the_maker_cancels_before_the_gate(cast: MarketCast) -> None:
    order_hash = placed(
        cast, cast.alpha, sell(cast, cast.alpha, "ev", fresh_slot(cast.world), 10_000, 9_000)
    )
    assert cast.delete(cast.beta, f"/orders/{order_hash}").status_code == 404
    cancelled = cast.delete(cast.alpha, f"/orders/{order_hash}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cast.delete(cast.alpha, f"/orders/{order_hash}").status_code == 409
    book = cast.get(
        None, "/orderbook", market="intraday", slot_start=cancelled.json()["order"]["slot_start"]
    )
    assert all(level["price_eur_per_mwh"] != 90.0 for level in book.json()["levels"])


# -- one asset, several sells ---------------------------------------------------------------------


def test_sells_of_one_asset_may_not_offer_more_than_its_capacity_in_any_slot(
    cast: MarketCast,
) -> None:
    """Regression (issue 7): each sell was checked alone, so two 30 kW offers of the 50 kW
    battery in one slot were both stored (and cleared)."""
    slot = fresh_slot(cast.world)
    placed(cast, cast.alpha, sell(cast, cast.alpha, "battery", slot, 30_000, 10_000))
    before = counts(cast.world)
    second = sell(cast, cast.alpha, "battery", slot, 30_000, 11_000)
    response = place(cast, cast.alpha, second)
    refused(cast, response, 422, "order.power_w", before)
    message = response.json()["detail"][0]["msg"]
    assert "30000 W on top of the 30000 W" in message and "50000 W (free: 20000 W)" in message
    placed(cast, cast.alpha, dataclasses.replace(second, power_w=20_000))  # what is left fits


def test_capacity_counts_overlapping_blocks_per_direction_and_frees_on_cancel(
    cast: MarketCast,
) -> None:
    slot = fresh_slot(cast.world)
    block = placed(cast, cast.alpha, sell(cast, cast.alpha, "battery", slot, 40_000, 10_000))
    last = slot + 3 * SLOT_SECONDS  # the block's fourth slot
    later = sell(cast, cast.alpha, "battery", last, 20_000, 10_000, slot_count=1)
    refused(cast, place(cast, cast.alpha, later), 422, "order.power_w", counts(cast.world))
    down = sell(cast, cast.alpha, "battery", last, 20_000, 10_000, slot_count=1, direction=1)
    placed(cast, cast.alpha, down)  # down power is its own budget (20 kW)
    assert cast.delete(cast.alpha, f"/orders/{block}").status_code == 200
    placed(cast, cast.alpha, later)  # the cancelled block holds nothing


def test_a_batch_counts_its_own_earlier_sells_of_the_asset(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    orders = [sell(cast, cast.alpha, "battery", slot, 20_000, 10_000 + n) for n in range(3)]
    body = {"market": "intraday", "orders": [signed(cast, cast.alpha, o) for o in orders]}
    before = counts(cast.world)
    response = cast.post(cast.alpha, "/orders/batch", body)
    refused(cast, response, 422, "orders.2.order.power_w", before)


@pytest.mark.parametrize("group_commit", [True, False], ids=["group-commit", "own-transaction"])
def test_two_racing_sells_of_one_asset_store_one_and_refuse_the_other(
    cast: MarketCast, monkeypatch: pytest.MonkeyPatch, group_commit: bool
) -> None:
    """Two requests for one asset both read what it offers before either stores: both
    first checks pass, so the storing transaction must refuse the later one (409)."""
    if not group_commit:
        monkeypatch.setattr(cast.world.platform, "intake", None)
    slot = fresh_slot(cast.world)
    racers = [sell(cast, cast.alpha, "battery", slot, 30_000, 10_000 + n) for n in range(2)]
    both_read = threading.Barrier(2, timeout=30)
    read = orders_module.offered_power

    def read_then_wait(session: Session, orders: Any) -> Any:
        held = read(session, orders)
        both_read.wait()
        return held

    monkeypatch.setattr(orders_module, "offered_power", read_then_wait)
    before = counts(cast.world)
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda order: place(cast, cast.alpha, order), racers))
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    [loser] = [r for r in responses if r.status_code == 409]
    assert error_field(loser) == "order.power_w"
    assert counts(cast.world)[0] == before[0] + 1  # one order stored, not two


# -- batches -------------------------------------------------------------------------------------


def test_a_batch_is_stored_whole_or_not_at_all(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    orders = [sell(cast, cast.alpha, "battery", slot, 5_000 + n, 10_000 + n) for n in range(3)]
    bad = [*orders[:2], dataclasses.replace(orders[2], power_w=80_000)]
    before = counts(cast.world)
    body = {"market": "intraday", "orders": [signed(cast, cast.alpha, o) for o in bad]}
    refused(
        cast, cast.post(cast.alpha, "/orders/batch", body), 422, "orders.2.order.power_w", before
    )
    body = {"market": "intraday", "orders": [signed(cast, cast.alpha, o) for o in orders]}
    response = cast.post(cast.alpha, "/orders/batch", body)
    assert response.status_code == 201 and response.json()["count"] == 3
    cast.world.settle()
    oracle = cast.world.platform.oracle
    assert oracle.store.pending_keys([commit_key(h) for h in response.json()["order_hashes"]]) == []


def test_a_batch_with_a_repeated_nonce_is_refused(cast: MarketCast) -> None:
    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 5_000, 10_000)
    twin = dataclasses.replace(order, price_cents_per_mwh=11_000)
    body = {"market": "intraday", "orders": [signed(cast, cast.alpha, o) for o in (order, twin)]}
    before = counts(cast.world)
    refused(cast, cast.post(cast.alpha, "/orders/batch", body), 409, "orders.1.order.nonce", before)


def test_order_and_commitment_are_stored_together_or_not_at_all(
    cast: MarketCast, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: Any) -> None:
        raise RuntimeError("disk full")

    def fail_on_outbox(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO outbox_message"):
            fail()

    order = sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 5_000, 10_000)
    before = counts(cast.world)
    monkeypatch.setattr(outbox_rows, "insert_rows", fail)  # a request's own transaction
    engine = cast.world.platform.engine  # and the group commit's (market/intake.py)
    event.listen(engine, "before_cursor_execute", fail_on_outbox)
    try:
        if cast.world.platform.intake is None:
            with pytest.raises(RuntimeError, match="disk full"):
                place(cast, cast.alpha, order)
        else:
            assert place(cast, cast.alpha, order).status_code == 503
    finally:
        event.remove(engine, "before_cursor_execute", fail_on_outbox)
    assert counts(cast.world) == before
    monkeypatch.undo()
    order_hash = placed(cast, cast.alpha, order)
    with Session(cast.world.platform.engine) as session:
        assert session.get(MarketOrder, order_hash) is not None
    assert cast.world.platform.oracle.status_of(commit_key(order_hash)).status == "pending"


# -- reading -------------------------------------------------------------------------------------


def test_makers_read_their_own_orders_and_auditors_all(cast: MarketCast) -> None:
    order_hash = placed(
        cast, cast.alpha, sell(cast, cast.alpha, "battery", fresh_slot(cast.world), 7_000, 10_000)
    )
    own = cast.get(cast.alpha, "/orders", status="open", limit=1000).json()
    assert order_hash in {o["order_hash"] for o in own}
    assert all(o["order"]["maker"] == cast.alpha.address for o in own)
    assert order_hash not in {o["order_hash"] for o in cast.get(cast.beta, "/orders").json()}
    assert cast.get(cast.beta, f"/orders/{order_hash}").status_code == 404
    assert cast.get(cast.auditor, f"/orders/{order_hash}").status_code == 200
    assert cast.get(None, "/orders").status_code == 401


def test_the_order_book_aggregates_open_power_without_makers(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    for fsp, asset, power in ((cast.alpha, "battery", 10_000), (cast.beta, "heat pump", 6_000)):
        placed(cast, fsp, sell(cast, fsp, asset, slot, power, 15_000))
    placed(cast, cast.alpha, sell(cast, cast.alpha, "battery", slot, 4_000, 16_000))
    placed(cast, cast.dso, buy(cast.dso, ROOT, slot, 12_000, 25_000))
    book = cast.get(None, "/orderbook", market="intraday", slot_start=slot).json()
    levels = [
        (lv["side"], lv["node_id"], lv["price_eur_per_mwh"], lv["open_kw"], lv["orders"])
        for lv in book["levels"]
    ]
    assert levels == [
        ("buy", ROOT, 250.0, 12.0, 1),
        ("sell", HOUSE_A, 150.0, 16.0, 2),
        ("sell", HOUSE_A, 160.0, 4.0, 1),
    ]
    assert "maker" not in str(book) and cast.alpha.address not in str(book)


# -- the Python client ---------------------------------------------------------------------------


def test_the_client_signs_places_lists_and_cancels(cast: MarketCast) -> None:
    client = FlexledgerClient(cast.alpha.wallet, cast.world.client)
    client.sign_in()
    slot = fresh_slot(cast.world)
    order = sell(cast, cast.alpha, "ev", slot, 3_000, 8_000)
    one = client.place_order(order, "intraday")
    batch = client.place_orders([sell(cast, cast.alpha, "ev", slot, 2_000, 8_500)], "intraday")
    hashes = {o["order_hash"] for o in client.orders(market="intraday", slot_from=slot)}
    assert {one["order_hash"], *batch["order_hashes"]} <= hashes
    assert client.cancel_order(one["order_hash"])["status"] == "cancelled"
    assert client.orderbook("intraday", slot)["slot_start"] == slot
    assert Side(one["order"]["side"]) == Side.SELL and one["order"]["asset"] != ZERO_ADDRESS
